using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Meshd.Identity;

namespace Mesh.ControlPlane.Tests.Identity;

/// <summary>SVIDs issued by the CA, checked from outside by Debian's openssl: what it reads in them, and that it verifies them against the bundle.</summary>
public sealed partial class OpensslCrossCheckTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _directory = new("mesh-openssl-");
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose()
    {
        _key.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task Openssl_reads_one_URI_SAN_CA_FALSE_digital_signature_only_and_server_and_client_auth()
    {
        var ca = Open();
        var leaf = Write("leaf.pem", ca.Sign(CaTestSupport.Csr(_key), "orders").Certificate.ExportCertificatePem());

        var text = await OpensslAsync("x509", "-in", leaf, "-noout", "-text");

        Assert.Single(UriSan().Matches(text));
        Assert.Contains("URI:spiffe://mesh.local/svc/orders", text, StringComparison.Ordinal);
        Assert.Matches(@"X509v3 Subject Alternative Name: critical\s+URI:spiffe://mesh.local/svc/orders\s*\n", text);
        Assert.Matches(@"X509v3 Basic Constraints: critical\s+CA:FALSE", text);
        Assert.Matches(@"X509v3 Key Usage: critical\s+Digital Signature\s*\n", text);
        Assert.Matches(@"X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication", text);
        Assert.DoesNotContain("Certificate Sign", text, StringComparison.Ordinal);
        Assert.DoesNotContain("CRL Sign", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Openssl_verifies_an_issued_SVID_against_the_bundle_and_not_against_another_root()
    {
        var ca = Open();
        var bundle = Write("bundle.pem", ca.BundlePem);
        var leaf = Write("leaf.pem", ca.Sign(CaTestSupport.Csr(_key), "orders").Certificate.ExportCertificatePem());
        using var stranger = TestPki.CreateRoot("Mesh CA");
        var other = Write("other.pem", stranger.CertificatePem);

        Assert.Equal($"{leaf}: OK", (await OpensslAsync("verify", "-CAfile", bundle, "-purpose", "sslserver", leaf)).Trim());
        Assert.Equal($"{leaf}: OK", (await OpensslAsync("verify", "-CAfile", bundle, "-purpose", "sslclient", leaf)).Trim());
        var refused = await ChildProcess.RunAsync("openssl", ["verify", "-CAfile", other, leaf], Limit);
        Assert.NotEqual(0, refused.ExitCode);
    }

    [Fact]
    public async Task Openssl_verifies_an_SVID_of_a_supplied_intermediate_through_the_chain_returned_with_it()
    {
        var now = DateTimeOffset.UtcNow;
        using var root = TestPki.CreateRoot("Corp Root", now);
        using var intermediate = root.CreateIntermediate("Corp Mesh Intermediate", now);
        var options = new CertificateAuthorityOptions
        {
            DataDirectory = Path.Combine(_directory.Path, "data"),
            CertificatePath = Write("ca.pem", intermediate.CertificatePem),
            KeyPath = Write("ca-key.pem", intermediate.KeyPem),
            ChainPath = Write("chain.pem", root.CertificatePem),
        };
        var ca = CertificateAuthority.Open(options, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var issued = ca.Sign(CaTestSupport.Csr(_key), "orders");
        var bundle = Write("bundle.pem", ca.BundlePem);
        var chain = Write("issued-chain.pem", issued.ChainPem);
        var leaf = Write("leaf.pem", issued.Certificate.ExportCertificatePem());

        Assert.Equal($"{leaf}: OK", (await OpensslAsync("verify", "-CAfile", bundle, "-untrusted", chain, leaf)).Trim());
        Assert.NotEqual(0, (await ChildProcess.RunAsync("openssl", ["verify", "-CAfile", bundle, leaf], Limit)).ExitCode);
    }

    private CertificateAuthority Open() => CertificateAuthority.Open(
        new CertificateAuthorityOptions { DataDirectory = Path.Combine(_directory.Path, "data") },
        TimeProvider.System,
        Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

    private string Write(string name, string content)
    {
        var path = Path.Combine(_directory.Path, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static async Task<string> OpensslAsync(params string[] arguments)
    {
        var result = await ChildProcess.RunAsync("openssl", arguments, Limit);
        Assert.True(result.ExitCode == 0, $"openssl {string.Join(' ', arguments)} failed ({result.ExitCode}): {result.Error}{result.Output}");
        return result.Output;
    }

    [GeneratedRegex("URI:")]
    private static partial Regex UriSan();
}
