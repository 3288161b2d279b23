using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Testing;

/// <summary>
/// A certificate authority made in the test, issuing loopback server and client certificates, written as PEM files
/// into a directory of its own (deleted on dispose), for servers that read certificates from files.
/// </summary>
public sealed class TestAuthority : IDisposable
{
    private readonly TempDirectory _directory = new("mesh-ca-");
    private readonly RSA _key = RSA.Create(2048);

    /// <summary>Creates the authority and writes its certificate to <see cref="CertificateFile"/>.</summary>
    public TestAuthority()
    {
        var request = new CertificateRequest("CN=mesh-test-ca", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        CertificateFile = Path.Combine(_directory.Path, "ca.pem");
        File.WriteAllText(CertificateFile, Certificate.ExportCertificatePem());
    }

    /// <summary>Gets the authority's own certificate.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Gets the PEM file of the authority's certificate.</summary>
    public string CertificateFile { get; }

    /// <summary>
    /// Issues a certificate for 127.0.0.1 and localhost, for a server (or a client, with <paramref name="client"/>; or
    /// both, with <paramref name="alsoClient"/>), and writes it and its key as PEM files.
    /// </summary>
    /// <returns>The certificate with its private key, and the paths of its PEM files.</returns>
    public (X509Certificate2 Certificate, string CertificateFile, string KeyFile) Issue(string name, bool client = false, bool alsoClient = false)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        var usages = new OidCollection { new Oid(client ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1") };
        if (alsoClient && !client)
        {
            usages.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, critical: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var issued = request.Create(Certificate, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(12), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        var certificateFile = Path.Combine(_directory.Path, name + ".pem");
        var keyFile = Path.Combine(_directory.Path, name + ".key");
        File.WriteAllText(certificateFile, withKey.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), password: null), certificateFile, keyFile);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
        _directory.Dispose();
    }
}
