using Mesh.Identity;

namespace Mesh.Client.Tests.Identity;

/// <summary>Trust bundles read from PEM: several roots per trust domain, clear errors for nothing or the wrong thing.</summary>
public sealed class TrustBundleTests : IDisposable
{
    private readonly TestPki _first = TestPki.CreateRoot("Root 1");
    private readonly TestPki _second = TestPki.CreateRoot("Root 2");

    public void Dispose()
    {
        _first.Dispose();
        _second.Dispose();
    }

    [Fact]
    public void Several_roots_of_one_trust_domain_are_read_from_one_PEM_text_in_order()
    {
        var bundle = TrustBundle.FromPem("mesh.local", _first.CertificatePem + "\n" + _second.CertificatePem);

        var roots = bundle.GetRoots("mesh.local");
        Assert.Equal(2, roots.Length);
        Assert.Equal(_first.Certificate.Thumbprint, roots[0].Thumbprint);
        Assert.Equal(_second.Certificate.Thumbprint, roots[1].Thumbprint);
        Assert.Equal(["mesh.local"], bundle.TrustDomains);
        Assert.Empty(bundle.GetRoots("other.test"));
    }

    [Fact]
    public void A_root_listed_twice_is_kept_once()
    {
        var bundle = TrustBundle.FromPem("mesh.local", _first.CertificatePem + "\n" + _first.CertificatePem);

        Assert.Single(bundle.GetRoots("mesh.local"));
    }

    [Fact]
    public void Roots_are_read_from_a_file_and_written_back_as_PEM()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "bundle.pem");
        File.WriteAllText(path, _first.CertificatePem + "\n" + _second.CertificatePem + "\n");

        var bundle = TrustBundle.FromPemFile("mesh.local", path);
        var again = TrustBundle.FromPem("mesh.local", bundle.ToPem("mesh.local"));

        Assert.Equal(bundle.GetRoots("mesh.local").Select(r => r.Thumbprint), again.GetRoots("mesh.local").Select(r => r.Thumbprint));
    }

    [Fact]
    public void A_bundle_with_no_roots_is_refused_with_a_clear_error()
    {
        var error = Assert.Throws<InvalidDataException>(() => TrustBundle.FromPem("mesh.local", "# nothing here\n", "/etc/mesh/bundle.pem"));

        Assert.Contains("/etc/mesh/bundle.pem", error.Message, StringComparison.Ordinal);
        Assert.Contains("trust domain 'mesh.local' holds no root certificate", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => TrustBundle.Create("mesh.local", []));
    }

    [Fact]
    public void PEM_markers_without_a_well_formed_block_are_refused_as_malformed_not_as_empty()
    {
        var glued = _first.CertificatePem + _second.CertificatePem;

        var error = Assert.Throws<InvalidDataException>(() => TrustBundle.FromPem("mesh.local", glued, "bundle.pem"));

        Assert.Contains("bundle.pem: the text has PEM markers but no well-formed PEM block", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_PEM_block_that_is_not_a_certificate_is_refused()
    {
        const string broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

        var error = Assert.Throws<InvalidDataException>(() => TrustBundle.FromPem("mesh.local", broken, "bundle.pem"));

        Assert.Contains("bundle.pem: certificate 1 is not a readable X.509 certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_leaf_is_refused_as_a_root()
    {
        using var leaf = _first.Issue();

        var error = Assert.Throws<InvalidDataException>(() => TrustBundle.Create("mesh.local", [leaf]));

        Assert.Contains("is not a CA certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_intermediate_is_refused_as_a_root_because_it_could_never_anchor_a_chain()
    {
        using var intermediate = _first.CreateIntermediate();

        var error = Assert.Throws<InvalidDataException>(() => TrustBundle.Create("mesh.local", [intermediate.Certificate]));

        Assert.Contains("is not self-signed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_trust_domain_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => TrustBundle.Create("Mesh.Local", [_first.Certificate]));

        Assert.Contains("lower case", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_replaces_one_trust_domain_and_keeps_the_others()
    {
        var bundle = TrustBundle.Create("a.test", [_first.Certificate]).With("b.test", [_second.Certificate]);
        var replaced = bundle.With("a.test", [_second.Certificate]);

        Assert.Equal(_first.Certificate.Thumbprint, Assert.Single(bundle.GetRoots("a.test")).Thumbprint);
        Assert.Equal(_second.Certificate.Thumbprint, Assert.Single(replaced.GetRoots("a.test")).Thumbprint);
        Assert.Equal(_second.Certificate.Thumbprint, Assert.Single(replaced.GetRoots("b.test")).Thumbprint);
        Assert.Empty(replaced.Without("a.test").GetRoots("a.test"));
        Assert.True(TrustBundle.Empty.IsEmpty);
        Assert.False(bundle.IsEmpty);
    }
}
