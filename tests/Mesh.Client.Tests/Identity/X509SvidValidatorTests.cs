using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Identity;

/// <summary>The X.509-SVID validation corpus: each certificate the standard says to refuse or accept, one test each, made in the test.</summary>
public sealed class X509SvidValidatorTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private readonly TestPki _rootA = TestPki.CreateRoot("Root A", Now, "a.test");
    private readonly TestPki _rootB = TestPki.CreateRoot("Root B", Now, "b.test");
    private readonly X509SvidValidator _validator;

    public X509SvidValidatorTests()
    {
        _validator = new X509SvidValidator(_time);
    }

    private TrustBundle BundleA => TrustBundle.Create("a.test", [_rootA.Root]);

    private TrustBundle BothBundles => BundleA.With("b.test", [_rootB.Root]);

    public void Dispose()
    {
        _rootA.Dispose();
        _rootB.Dispose();
    }

    [Fact]
    public void A_valid_SVID_yields_its_SPIFFE_ID()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders"));

        var result = _validator.Validate(leaf, null, BundleA);

        Assert.True(result.IsValid, result.Problem);
        Assert.Equal(SpiffeId.Parse("spiffe://a.test/svc/orders"), result.Id);
        Assert.Equal(SvidFailure.None, result.Failure);
    }

    [Fact]
    public void Accepted_extra_DNS_SANs_beside_the_one_URI()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders") with { DnsNames = ["orders.internal", "localhost"] });

        var result = _validator.Validate(leaf, null, BundleA);

        Assert.True(result.IsValid, result.Problem);
        Assert.Equal("spiffe://a.test/svc/orders", result.Id.ToString());
    }

    [Fact]
    public void Accepted_an_empty_subject_with_a_critical_URI_SAN()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders") with { Subject = string.Empty, SanCritical = true });
        Assert.Empty(leaf.SubjectName.RawData.Skip(2));

        var result = _validator.Validate(leaf, null, BundleA);

        Assert.True(result.IsValid, result.Problem);
    }

    [Fact]
    public void Accepted_a_leaf_of_an_intermediate_when_the_peer_sends_the_intermediate()
    {
        using var intermediate = _rootA.CreateIntermediate("Intermediate A", Now, "a.test");
        using var leaf = intermediate.Issue(Leaf("spiffe://a.test/svc/orders"));

        var result = _validator.Validate(leaf, [intermediate.Certificate], BundleA);

        Assert.True(result.IsValid, result.Problem);
    }

    [Fact]
    public void Accepted_a_leaf_of_either_root_while_a_trust_domain_has_two()
    {
        using var next = TestPki.CreateRoot("Root A2", Now, "a.test");
        using var oldLeaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders"));
        using var newLeaf = next.Issue(Leaf("spiffe://a.test/svc/orders"));
        var rotating = TrustBundle.Create("a.test", [_rootA.Root, next.Root]);

        Assert.True(_validator.Validate(oldLeaf, null, rotating).IsValid);
        Assert.True(_validator.Validate(newLeaf, null, rotating).IsValid);
        Assert.Equal(SvidFailure.Untrusted, _validator.Validate(newLeaf, null, BundleA).Failure);
    }

    [Fact]
    public void Rejected_a_CA_certificate()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders") with { CertificateAuthority = true });

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.CertificateAuthority, "cA=true");
    }

    [Fact]
    public void Rejected_key_usage_keyCertSign()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders") with { KeyUsage = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign });

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.KeyCertSign, "keyCertSign");
    }

    [Fact]
    public void Rejected_key_usage_cRLSign()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders") with { KeyUsage = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.CrlSign });

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.CrlSign, "cRLSign");
    }

    [Fact]
    public void Rejected_no_URI_SAN()
    {
        using var leaf = _rootA.Issue(new TestLeaf { Now = Now, Uris = [], DnsNames = ["orders.internal"] });

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.NoUriSan, "no URI subject alternative name");
    }

    [Fact]
    public void Rejected_no_SAN_extension_at_all()
    {
        using var leaf = _rootA.Issue(new TestLeaf { Now = Now, Uris = [] });

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.NoUriSan, "no URI subject alternative name");
    }

    [Fact]
    public void Rejected_two_URI_SANs()
    {
        using var leaf = _rootA.Issue(new TestLeaf { Now = Now, Uris = ["spiffe://a.test/svc/orders", "spiffe://a.test/svc/payments"] });

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.SeveralUriSans, "2 URI subject alternative names");
    }

    [Fact]
    public void Rejected_two_SAN_extensions_each_with_a_URI()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders") with { SecondSanExtension = "spiffe://a.test/svc/payments" });

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.SeveralUriSans, "2 subject alternative name extensions");
    }

    [Fact]
    public void Rejected_a_URI_SAN_with_another_scheme()
    {
        using var leaf = _rootA.Issue(Leaf("https://a.test/svc/orders"));

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.NotSpiffe, "is not a SPIFFE ID");
    }

    [Fact]
    public void Rejected_a_malformed_SPIFFE_ID()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc//orders"));

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.InvalidSpiffeId, "empty segment");
    }

    [Fact]
    public void Rejected_a_SPIFFE_ID_with_the_root_path_only()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test"));

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.RootPathOnly, "has no path");
    }

    [Fact]
    public void Rejected_a_certificate_of_an_untrusted_CA()
    {
        using var stranger = TestPki.CreateRoot("Root A", Now, "a.test");
        using var leaf = stranger.Issue(Leaf("spiffe://a.test/svc/orders"));

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.Untrusted, "does not chain to a root of trust domain 'a.test'");
    }

    [Fact]
    public void Rejected_an_untrusted_root_sent_by_the_peer_as_an_intermediate()
    {
        using var stranger = TestPki.CreateRoot("Root A", Now, "a.test");
        using var leaf = stranger.Issue(Leaf("spiffe://a.test/svc/orders"));

        AssertRefused(_validator.Validate(leaf, [stranger.Certificate], BundleA), SvidFailure.Untrusted, "does not chain");
    }

    [Fact]
    public void Rejected_a_leaf_of_an_intermediate_when_the_peer_does_not_send_it()
    {
        using var intermediate = _rootA.CreateIntermediate("Intermediate A", Now, "a.test");
        using var leaf = intermediate.Issue(Leaf("spiffe://a.test/svc/orders"));

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.Untrusted, "does not chain");
    }

    [Fact]
    public void Rejected_an_expired_certificate()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders") with { NotBefore = Now.AddHours(-2), NotAfter = Now.AddSeconds(-1) });

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.Expired, "expired at 2026-11-25T11:59:59Z");
    }

    [Fact]
    public void Rejected_a_certificate_not_yet_valid()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders") with { NotBefore = Now.AddMinutes(1), NotAfter = Now.AddHours(1) });

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.NotYetValid, "not valid before 2026-11-25T12:01:00Z");
    }

    [Fact]
    public void Validity_follows_the_injected_clock()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders"));
        Assert.True(_validator.Validate(leaf, null, BundleA).IsValid);

        _time.Advance(TimeSpan.FromHours(2));

        Assert.Equal(SvidFailure.Expired, _validator.Validate(leaf, null, BundleA).Failure);
    }

    [Fact]
    public void Rejected_a_leaf_claiming_trust_domain_B_signed_by_A_with_both_bundles_loaded()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://b.test/svc/orders"));

        var result = _validator.Validate(leaf, null, BothBundles);

        AssertRefused(result, SvidFailure.Untrusted, "does not chain to a root of trust domain 'b.test'");

        // The same root is accepted for its own trust domain.
        using var own = _rootA.Issue(Leaf("spiffe://a.test/svc/orders"));
        Assert.True(_validator.Validate(own, null, BothBundles).IsValid);
    }

    [Fact]
    public void Rejected_against_an_empty_bundle()
    {
        using var leaf = _rootA.Issue(Leaf("spiffe://a.test/svc/orders"));

        AssertRefused(_validator.Validate(leaf, null, TrustBundle.Empty), SvidFailure.NoRoots, "holds no roots at all");
    }

    [Fact]
    public void Rejected_against_a_bundle_without_the_leafs_trust_domain()
    {
        using var leaf = _rootB.Issue(Leaf("spiffe://b.test/svc/orders"));

        AssertRefused(_validator.Validate(leaf, null, BundleA), SvidFailure.NoRoots, "roots only for 'a.test', none for trust domain 'b.test'");
    }

    [Fact]
    public void Rejected_no_certificate()
    {
        AssertRefused(_validator.Validate((X509Certificate2?)null, null, BundleA), SvidFailure.NoCertificate, "no certificate");
    }

    [Fact]
    public void The_TLS_overload_takes_the_peers_intermediates_from_the_chain_extra_store()
    {
        using var intermediate = _rootA.CreateIntermediate("Intermediate A", Now, "a.test");
        using var leaf = intermediate.Issue(Leaf("spiffe://a.test/svc/orders"));
        using var chain = new X509Chain();
        Assert.Equal(SvidFailure.Untrusted, _validator.Validate(leaf, chain, BundleA).Failure);

        chain.ChainPolicy.ExtraStore.Add(intermediate.Certificate);

        Assert.True(_validator.Validate(leaf, chain, BundleA).IsValid);
    }

    [Fact]
    public void The_expected_identity_check_names_both_identities()
    {
        var presented = SpiffeId.ForService("mesh.local", "orders");
        var expected = SpiffeId.ForService("mesh.local", "payments");

        Assert.True(X509SvidValidator.IsExpected(expected, expected, out var none));
        Assert.Null(none);
        Assert.False(X509SvidValidator.IsExpected(presented, expected, out var problem));
        Assert.Contains("'spiffe://mesh.local/svc/orders'", problem, StringComparison.Ordinal);
        Assert.Contains("'spiffe://mesh.local/svc/payments' was expected", problem, StringComparison.Ordinal);
    }

    private static TestLeaf Leaf(string uri) => new() { Now = Now, Uris = [uri] };

    private static void AssertRefused(SvidVerification result, SvidFailure failure, string reason)
    {
        Assert.False(result.IsValid);
        Assert.Null(result.Id);
        Assert.Equal(failure, result.Failure);
        Assert.Contains(reason, result.Problem, StringComparison.Ordinal);
    }
}
