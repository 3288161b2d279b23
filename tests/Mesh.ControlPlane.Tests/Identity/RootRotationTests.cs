using System.Security.Cryptography;
using Mesh.Identity;
using Meshd.Identity;

namespace Mesh.ControlPlane.Tests.Identity;

/// <summary>Root rotation as operator actions, A → A+B → sign with B → B only, each step kept across a restart.</summary>
public sealed class RootRotationTests : IDisposable
{
    private readonly CaTestSupport _support = new();
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose()
    {
        _key.Dispose();
        _support.Dispose();
    }

    [Fact]
    public void A_then_A_and_B_then_signing_with_B_then_B_only_each_surviving_a_restart()
    {
        var ca = _support.Open();
        var a = ca.Authorities[0].Id;
        var fromA = Sign(ca);

        // A → A+B: B's root is trusted, A still signs.
        var b = ca.AddRoot().Id;
        ca = _support.Open();
        Assert.Equal([a, b], ca.Authorities.Select(x => x.Id));
        Assert.Equal(2, ca.Bundle.GetRoots("mesh.local").Length);
        Assert.Equal(a, Sign(ca).AuthorityId);
        Assert.True(Valid(ca, fromA));

        // Sign with B: new certificates from B; A's still valid against the bundle.
        ca.Activate(b);
        ca = _support.Open();
        Assert.Equal(b, ca.Authorities.Single(x => x.IsActive).Id);
        var fromB = Sign(ca);
        Assert.Equal(b, fromB.AuthorityId);
        Assert.True(Valid(ca, fromB));
        Assert.True(Valid(ca, fromA));

        // B only, once A's certificates can no longer be valid.
        _support.Time.Advance(TimeSpan.FromDays(7) + TimeSpan.FromSeconds(1));
        ca.Remove(a);
        ca = _support.Open();
        Assert.Equal([b], ca.Authorities.Select(x => x.Id));
        Assert.Single(ca.Bundle.GetRoots("mesh.local"));
        Assert.True(Valid(ca, Sign(ca)));
        Assert.False(Directory.Exists(Path.Combine(_support.CaDirectory, "authorities", a)));
    }

    [Fact]
    public void The_active_root_comes_first_in_the_bundle()
    {
        var ca = _support.Open();
        var b = ca.AddRoot().Id;
        Assert.Equal(ca.Authorities[0].RootFingerprint, Fingerprint(ca.Bundle.GetRoots("mesh.local")[0]));

        ca.Activate(b);

        Assert.Equal(b, Fingerprint(ca.Bundle.GetRoots("mesh.local")[0]));
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", ca.BundlePem, StringComparison.Ordinal);
        Assert.Equal(2, TrustBundle.FromPem("mesh.local", ca.BundlePem).GetRoots("mesh.local").Length);
    }

    [Fact]
    public void Removing_the_old_root_while_its_certificates_may_be_valid_is_refused_unless_forced()
    {
        var ca = _support.Open();
        var a = ca.Authorities[0].Id;
        var fromA = Sign(ca);
        ca.Activate(ca.AddRoot().Id);

        var error = Assert.Throws<InvalidOperationException>(() => ca.Remove(a));
        Assert.Contains($"signed by the authority {a} may be valid until", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, ca.Bundle.GetRoots("mesh.local").Length);

        ca.Remove(a, force: true);

        Assert.False(Valid(ca, fromA));
    }

    [Fact]
    public void The_active_authority_cannot_be_removed()
    {
        var ca = _support.Open();

        var error = Assert.Throws<InvalidOperationException>(() => ca.Remove(ca.Authorities[0].Id, force: true));

        Assert.Contains("is the one that signs", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_added_root_never_active_can_be_removed_at_once()
    {
        var ca = _support.Open();
        var b = ca.AddRoot().Id;

        ca.Remove(b);

        Assert.Single(ca.Authorities);
    }

    [Fact]
    public void Authorities_are_found_by_id_or_by_an_unambiguous_prefix()
    {
        var ca = _support.Open();
        var b = ca.AddRoot().Id;

        Assert.Equal(b, ca.Activate(b[..12]).Id);
        Assert.Throws<KeyNotFoundException>(() => ca.Activate("abc"));
        Assert.Throws<KeyNotFoundException>(() => ca.Activate("ffffffffffffffff"));
    }

    [Fact]
    public void Activating_the_active_authority_changes_nothing()
    {
        var ca = _support.Open();
        var before = ca.Authorities;

        ca.Activate(ca.Authorities[0].Id);

        Assert.Equal(before, ca.Authorities);
        Assert.Null(ca.Authorities[0].DeactivatedAt);
    }

    private IssuedSvid Sign(CertificateAuthority ca) => ca.Sign(CaTestSupport.Csr(_key), "orders");

    private bool Valid(CertificateAuthority ca, IssuedSvid issued) => CaTestSupport.Verify(ca, issued, _support.Time).IsValid;

    private static string Fingerprint(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate) =>
        Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256));
}
