using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.LoadBench;

/// <summary>
/// The certificates of the mutual TLS rows, made at the start of a run (ECDSA P-256): a root for trust domain
/// <c>bench.test</c> and two X.509-SVID leaves signed by it, the client's and the backends', each with its SPIFFE ID as
/// its URI SAN. They are written as PEM to a temporary directory only this user may enter (keys owner-only), which the
/// run deletes at its end; the root's key never leaves memory.
/// </summary>
internal sealed class BenchPki : IDisposable
{
    public const string TrustDomain = "bench.test";
    public const string ClientId = "spiffe://bench.test/svc/client";
    public const string BackendId = "spiffe://bench.test/svc/backend";

    /// <summary>The DNS SAN the backends' certificate also carries: nginx's <c>proxy_ssl_verify</c> checks a host name, never a URI.</summary>
    public const string BackendDnsName = "backend.bench.test";

    private const string RootFile = "root.pem";
    private const string ClientFile = "client.pem";
    private const string ClientKeyFile = "client-key.pem";
    private const string BackendFile = "backend.pem";
    private const string BackendKeyFile = "backend-key.pem";

    private BenchPki(string directory, X509Certificate2 root, X509Certificate2 client)
    {
        Directory = directory;
        Root = root;
        Client = client;
    }

    /// <summary>Gets the directory holding the PEM files.</summary>
    public string Directory { get; }

    /// <summary>Gets the root, without its key.</summary>
    public X509Certificate2 Root { get; }

    /// <summary>Gets the client's certificate, with its key.</summary>
    public X509Certificate2 Client { get; }

    public string RootPath => Path.Combine(Directory, RootFile);

    public string ClientPath => Path.Combine(Directory, ClientFile);

    public string ClientKeyPath => Path.Combine(Directory, ClientKeyFile);

    public string BackendPath => Path.Combine(Directory, BackendFile);

    public string BackendKeyPath => Path.Combine(Directory, BackendKeyFile);

    /// <summary>Makes the root and both leaves, valid from five minutes ago for a day, and writes them to a new temporary directory.</summary>
    public static BenchPki Create()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("mesh-loadbench-pki-").FullName;
        try
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            var now = DateTimeOffset.UtcNow;
            using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=Mesh LoadBench Root", rootKey, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
            var rootSan = new SubjectAlternativeNameBuilder();
            rootSan.AddUri(new Uri($"spiffe://{TrustDomain}"));
            request.CertificateExtensions.Add(rootSan.Build());
            using var root = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

            var client = Issue(root, "client", ClientId, dnsName: null, now);
            var backend = Issue(root, "backend", BackendId, BackendDnsName, now);
            using (backend)
            {
                Write(Path.Combine(directory, RootFile), root.ExportCertificatePem(), secret: false);
                WriteLeaf(directory, ClientFile, ClientKeyFile, client);
                WriteLeaf(directory, BackendFile, BackendKeyFile, backend);
            }

            return new BenchPki(directory, X509CertificateLoader.LoadCertificate(root.RawData), client);
        }
        catch
        {
            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>Reads the backends' certificate with its key from <paramref name="directory"/>, as the backend process does.</summary>
    public static X509Certificate2 LoadBackend(string directory) =>
        X509Certificate2.CreateFromPemFile(Path.Combine(directory, BackendFile), Path.Combine(directory, BackendKeyFile));

    /// <summary>Reads the root from <paramref name="directory"/>.</summary>
    public static X509Certificate2 LoadRoot(string directory) => X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(directory, RootFile)));

    /// <summary>Gets whether <paramref name="certificate"/> chains to <paramref name="root"/> and nothing else (no system store, no revocation lookups).</summary>
    public static bool ChainsTo(X509Certificate? certificate, X509Certificate2 root)
    {
        if (certificate is not X509Certificate2 leaf)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        return chain.Build(leaf);
    }

    /// <summary>
    /// The TLS settings of a bare client with the client's certificate (one context, built once, as the mesh does): the
    /// peer must chain to the root. The host name is not checked, as the mesh checks a SPIFFE ID instead.
    /// </summary>
    public SslClientAuthenticationOptions ClientSslOptions()
    {
        var root = Root;
        return new SslClientAuthenticationOptions
        {
            ClientCertificateContext = SslStreamCertificateContext.Create(Client, [], offline: true),
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => ChainsTo(certificate, root),
        };
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held; the temporary directory is cleaned some other day.
        }

        Root.Dispose();
        Client.Dispose();
    }

    private static X509Certificate2 Issue(X509Certificate2 root, string name, string id, string? dnsName, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(id));
        if (dnsName is not null)
        {
            san.AddDnsName(dnsName);
        }

        request.CertificateExtensions.Add(san.Build());
        using var signed = request.Create(root, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(16));

        // Through PEM, so the certificate holds its own copy of the key once this one is disposed.
        return X509Certificate2.CreateFromPem(signed.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    private static void WriteLeaf(string directory, string certificateFile, string keyFile, X509Certificate2 leaf)
    {
        using var key = leaf.GetECDsaPrivateKey() ?? throw new InvalidOperationException($"{leaf.Subject} has no ECDSA key");
        Write(Path.Combine(directory, keyFile), key.ExportPkcs8PrivateKeyPem(), secret: true);
        Write(Path.Combine(directory, certificateFile), leaf.ExportCertificatePem(), secret: false);
    }

    private static void Write(string path, string pem, bool secret)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = secret
                ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        }

        using var writer = new StreamWriter(path, System.Text.Encoding.ASCII, options);
        writer.Write(pem);
        writer.Write('\n');
    }
}
