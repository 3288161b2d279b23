using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;

namespace Mesh.Client.Tests.Identity;

/// <summary>An SVID read from PEM, its key checked against its certificate; and the signing request a workload sends to meshd.</summary>
public sealed class WorkloadSvidTests : IDisposable
{
    private readonly TestPki _ca = TestPki.CreateRoot("SVID CA", trustDomain: "mesh.local");

    public void Dispose() => _ca.Dispose();

    [Fact]
    public void A_chain_and_key_in_PEM_make_an_SVID_with_its_intermediates()
    {
        using var intermediate = _ca.CreateIntermediate("SVID Intermediate", trustDomain: "mesh.local");
        using var leaf = intermediate.Issue(new TestLeaf { Uris = ["spiffe://mesh.local/svc/orders"] });

        var svid = WorkloadSvid.FromPem(intermediate.ChainPem(leaf), TestPki.KeyPemOf(leaf), "test");

        Assert.Equal("spiffe://mesh.local/svc/orders", svid.Id.ToString());
        Assert.True(svid.Certificate.HasPrivateKey);
        Assert.Equal(leaf.Thumbprint, svid.Certificate.Thumbprint);
        Assert.Equal(intermediate.Certificate.Thumbprint, Assert.Single(svid.Intermediates).Thumbprint);
        Assert.Equal(new DateTimeOffset(leaf.NotAfter.ToUniversalTime()), svid.NotAfter);
        Assert.Equal(leaf.GetCertHashString(HashAlgorithmName.SHA256), svid.Fingerprint);
        Assert.NotNull(svid.Context);
    }

    [Fact]
    public void A_key_that_does_not_match_is_refused_without_repeating_the_key()
    {
        using var leaf = _ca.Issue();
        using var other = _ca.Issue();
        var otherKey = TestPki.KeyPemOf(other);

        var error = Assert.Throws<InvalidDataException>(() => WorkloadSvid.FromPem(_ca.ChainPem(leaf), otherKey, "svid.pem with key.pem"));

        Assert.Contains("svid.pem with key.pem: the private key is unreadable or does not match the certificate", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(otherKey.Split('\n')[1], error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PEM_text_without_a_certificate_is_refused()
    {
        var error = Assert.Throws<InvalidDataException>(() => WorkloadSvid.FromPem(string.Empty, string.Empty, "svid.pem"));

        Assert.Equal("svid.pem: no PEM CERTIFICATE block.", error.Message);
    }

    [Fact]
    public void A_certificate_without_a_SPIFFE_ID_is_refused()
    {
        using var leaf = _ca.Issue(new TestLeaf { Uris = [], DnsNames = ["orders"] });

        var error = Assert.Throws<InvalidDataException>(() => WorkloadSvid.FromPem(_ca.ChainPem(leaf), TestPki.KeyPemOf(leaf), "svid.pem"));

        Assert.Contains("no URI subject alternative name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_without_its_private_key_is_refused()
    {
        using var leaf = _ca.Issue();
        using var publicOnly = X509CertificateLoader.LoadCertificate(leaf.RawData);

        var error = Assert.Throws<InvalidDataException>(() => WorkloadSvid.Create(publicOnly));

        Assert.Contains("has no private key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_SVID_exported_as_PEM_reads_back_the_same()
    {
        using var intermediate = _ca.CreateIntermediate("SVID Intermediate", trustDomain: "mesh.local");
        using var leaf = intermediate.Issue();
        var svid = WorkloadSvid.FromPem(intermediate.ChainPem(leaf), TestPki.KeyPemOf(leaf), "test");

        var (certificatePem, keyPem) = svid.ExportPem();
        var again = WorkloadSvid.FromPem(certificatePem, keyPem, "export");

        Assert.Equal(svid.Fingerprint, again.Fingerprint);
        Assert.Equal(svid.Intermediates.Select(c => c.Thumbprint), again.Intermediates.Select(c => c.Thumbprint));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", keyPem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_signing_request_carries_a_P256_key_and_the_wanted_ID_and_is_signed()
    {
        var id = SpiffeId.ForService("mesh.local", "orders");
        using var request = SvidSigningRequest.Create(id);

        var loaded = CertificateRequest.LoadSigningRequestPem(request.Pem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);

        using var key = loaded.PublicKey.GetECDsaPublicKey();
        Assert.NotNull(key);
        Assert.Equal(ECCurve.NamedCurves.nistP256.Oid.Value, key.ExportParameters(false).Curve.Oid.Value);
        var san = Assert.Single(loaded.CertificateExtensions, e => e.Oid?.Value == "2.5.29.17");
        Assert.True(san.Critical);
        Assert.DoesNotContain("PRIVATE", request.Pem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_for_another_key_does_not_complete_a_signing_request()
    {
        using var request = SvidSigningRequest.Create(SpiffeId.ForService("mesh.local", "orders"));
        using var leaf = _ca.Issue();

        Assert.Throws<InvalidDataException>(() => request.Complete(_ca.ChainPem(leaf)));
    }
}
