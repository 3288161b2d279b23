using System.Security.Cryptography;
using Meshd.Identity;

namespace Mesh.ControlPlane.Tests.Identity;

/// <summary>A CA of the user's own PKI supplied as PEM files: an intermediate with its chain, checked before it is used.</summary>
public sealed class SuppliedAuthorityTests : IDisposable
{
    private readonly CaTestSupport _support = new();
    private readonly TestPki _root;
    private readonly TestPki _intermediate;
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public SuppliedAuthorityTests()
    {
        _root = TestPki.CreateRoot("Corp Root", _support.Time.GetUtcNow());
        _intermediate = _root.CreateIntermediate("Corp Mesh Intermediate", _support.Time.GetUtcNow(), trustDomain: "mesh.local");
    }

    private string Pki => Path.Combine(_support.Directory.Path, "pki");

    public void Dispose()
    {
        _key.Dispose();
        _intermediate.Dispose();
        _root.Dispose();
        _support.Dispose();
    }

    [Fact]
    public void An_intermediate_with_its_chain_signs_and_the_bundle_holds_the_users_root()
    {
        var ca = _support.Open(Supplied(_intermediate.CertificatePem, _intermediate.KeyPem, _root.CertificatePem));

        var authority = Assert.Single(ca.Authorities);
        Assert.Equal("supplied", authority.Origin);
        Assert.Equal(_root.Certificate.Thumbprint, Assert.Single(ca.Bundle.GetRoots("mesh.local")).Thumbprint);
        var issued = ca.Sign(CaTestSupport.Csr(_key), "orders");
        Assert.Equal(_intermediate.Certificate.Subject, issued.Certificate.Issuer);
        var verified = CaTestSupport.Verify(ca, issued, _support.Time);
        Assert.True(verified.IsValid, verified.Problem);
    }

    [Fact]
    public void The_chain_returned_with_a_certificate_holds_the_intermediate_but_not_the_root()
    {
        var ca = _support.Open(Supplied(_intermediate.CertificatePem, _intermediate.KeyPem, _root.CertificatePem));

        var chain = Mesh.Identity.TrustBundle.ReadPem(ca.Sign(CaTestSupport.Csr(_key), "orders").ChainPem, "issued");

        Assert.Equal(2, chain.Count);
        Assert.Equal(_intermediate.Certificate.Thumbprint, chain[1].Thumbprint);
    }

    [Fact]
    public void The_supplied_files_are_read_at_the_first_start_only_and_kept_in_the_data_directory()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Owner-only file modes are checked on Unix.");
        }

        var options = Supplied(_intermediate.CertificatePem, _intermediate.KeyPem, _root.CertificatePem);
        var ca = _support.Open(options);
        File.Delete(options.KeyPath!);

        var again = _support.Open(options);

        Assert.Equal(ca.Authorities, again.Authorities);
        Assert.Equal(
            UnixFileMode.UserRead | UnixFileMode.UserWrite,
            File.GetUnixFileMode(Path.Combine(_support.CaDirectory, "authorities", ca.Authorities[0].Id, "key.pem")));
    }

    [Fact]
    public void A_key_that_does_not_match_is_refused()
    {
        using var other = _root.CreateIntermediate("Other");

        var error = Assert.Throws<InvalidDataException>(() => _support.Open(Supplied(_intermediate.CertificatePem, other.KeyPem, _root.CertificatePem)));

        Assert.Contains("the private key is unreadable or does not match the certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_leaf_is_refused_as_a_CA()
    {
        using var leaf = _intermediate.Issue();

        var error = Assert.Throws<InvalidDataException>(() => _support.Open(Supplied(leaf.ExportCertificatePem(), TestPki.KeyPemOf(leaf), _intermediate.CertificatePem + "\n" + _root.CertificatePem)));

        Assert.Contains("is not a CA certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_intermediate_without_its_root_is_refused()
    {
        var error = Assert.Throws<InvalidDataException>(() => _support.Open(Supplied(_intermediate.CertificatePem, _intermediate.KeyPem, null)));

        Assert.Contains("which is not self-signed; give the certificates up to and including the root", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_chain_to_another_root_is_refused()
    {
        using var stranger = TestPki.CreateRoot("Corp Root", _support.Time.GetUtcNow());

        var error = Assert.Throws<InvalidDataException>(() => _support.Open(Supplied(_intermediate.CertificatePem, _intermediate.KeyPem, stranger.CertificatePem)));

        Assert.Contains("does not chain to the root", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_CA_carrying_the_SPIFFE_ID_of_another_trust_domain_is_refused()
    {
        using var foreign = _root.CreateIntermediate("Foreign", _support.Time.GetUtcNow(), trustDomain: "prod.example");

        var error = Assert.Throws<InvalidDataException>(() => _support.Open(Supplied(foreign.CertificatePem, foreign.KeyPem, _root.CertificatePem)));

        Assert.Contains("'spiffe://prod.example' of another trust domain than 'mesh.local'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_supplied_authority_can_be_rotated_in_beside_a_generated_root()
    {
        var ca = _support.Open();

        var added = ca.AddAuthority(_intermediate.CertificatePem, _intermediate.KeyPem, _root.CertificatePem);
        ca.Activate(added.Id);

        Assert.Equal(2, ca.Bundle.GetRoots("mesh.local").Length);
        Assert.True(CaTestSupport.Verify(ca, ca.Sign(CaTestSupport.Csr(_key), "orders"), _support.Time).IsValid);
        Assert.Throws<InvalidOperationException>(() => ca.AddAuthority(_intermediate.CertificatePem, _intermediate.KeyPem, _root.CertificatePem));
    }

    private CertificateAuthorityOptions Supplied(string certificatePem, string keyPem, string? chainPem)
    {
        Directory.CreateDirectory(Pki);
        var certificatePath = Path.Combine(Pki, "ca.pem");
        var keyPath = Path.Combine(Pki, "ca-key.pem");
        File.WriteAllText(certificatePath, certificatePem);
        File.WriteAllText(keyPath, keyPem);
        string? chainPath = null;
        if (chainPem is not null)
        {
            chainPath = Path.Combine(Pki, "chain.pem");
            File.WriteAllText(chainPath, chainPem);
        }

        return new CertificateAuthorityOptions { DataDirectory = _support.Directory.Path, CertificatePath = certificatePath, KeyPath = keyPath, ChainPath = chainPath };
    }
}
