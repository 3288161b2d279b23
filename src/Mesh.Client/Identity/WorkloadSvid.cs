using System.Collections.Immutable;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Identity;

/// <summary>
/// One X.509-SVID of this workload: the certificate with its private key, the intermediates that chain it to a root, and
/// the SPIFFE ID it proves. Immutable; a renewal makes a new one.
/// </summary>
internal sealed class WorkloadSvid
{
    private SslStreamCertificateContext? _context;

    private WorkloadSvid(X509Certificate2 certificate, ImmutableArray<X509Certificate2> intermediates, SpiffeId id)
    {
        Certificate = certificate;
        Intermediates = intermediates;
        Id = id;
        NotBefore = X509SvidValidator.NotBefore(certificate);
        NotAfter = X509SvidValidator.NotAfter(certificate);
        Fingerprint = certificate.GetCertHashString(HashAlgorithmName.SHA256);
    }

    /// <summary>Gets the leaf certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Gets the certificates between the leaf and the root, leaf's issuer first; empty when a root signed the leaf.</summary>
    public ImmutableArray<X509Certificate2> Intermediates { get; }

    /// <summary>Gets the SPIFFE ID the certificate proves.</summary>
    public SpiffeId Id { get; }

    /// <summary>Gets the start of the certificate's validity.</summary>
    public DateTimeOffset NotBefore { get; }

    /// <summary>Gets the end of the certificate's validity.</summary>
    public DateTimeOffset NotAfter { get; }

    /// <summary>Gets the SHA-256 fingerprint of the certificate (public, never key material), for logs.</summary>
    public string Fingerprint { get; }

    /// <summary>Gets the serial number of the certificate, for logs.</summary>
    public string SerialNumber => Certificate.SerialNumber;

    /// <summary>Gets the certificate and its intermediates as TLS sends them, built once per certificate rather than per handshake.</summary>
    public SslStreamCertificateContext Context =>
        LazyInitializer.EnsureInitialized(ref _context, () => SslStreamCertificateContext.Create(Certificate, [.. Intermediates], offline: true));

    /// <summary>Makes an SVID of a certificate that has its private key.</summary>
    /// <exception cref="InvalidDataException">The certificate has no private key, or no SPIFFE ID a workload may hold.</exception>
    public static WorkloadSvid Create(X509Certificate2 certificate, IEnumerable<X509Certificate2>? intermediates = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!certificate.HasPrivateKey)
        {
            throw new InvalidDataException($"The certificate '{certificate.Subject}' (SHA-256 {certificate.GetCertHashString(HashAlgorithmName.SHA256)}) has no private key.");
        }

        var id = X509SvidValidator.ReadId(certificate);
        if (!id.IsValid)
        {
            throw new InvalidDataException($"The certificate (SHA-256 {certificate.GetCertHashString(HashAlgorithmName.SHA256)}) is not a workload's X.509-SVID: {id.Problem}.");
        }

        return new WorkloadSvid(certificate, [.. intermediates ?? []], id.Id);
    }

    /// <summary>
    /// Reads an SVID from PEM text: <paramref name="certificatePem"/> holds the leaf first, then its intermediates;
    /// <paramref name="keyPem"/> holds the leaf's private key (PKCS#8, SEC1 or PKCS#1, unencrypted).
    /// </summary>
    /// <param name="certificatePem">The certificate chain.</param>
    /// <param name="keyPem">The private key.</param>
    /// <param name="source">Where the text came from, for error messages, such as the file paths. Never the key itself.</param>
    /// <exception cref="InvalidDataException">The text holds no certificate, a malformed one, a key that is malformed or does not match, or a certificate that is no SVID.</exception>
    public static WorkloadSvid FromPem(string certificatePem, string keyPem, string source)
    {
        var (leaf, intermediates) = PemCertificates.ReadWithKey(certificatePem, null, keyPem, source);
        if (OperatingSystem.IsWindows())
        {
            // SChannel cannot use an ephemeral key for TLS; a PKCS#12 round trip gives it a usable one.
            using var ephemeral = leaf;
            leaf = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
        }

        return Create(leaf, intermediates);
    }

    /// <summary>Returns the certificate chain and the private key as PEM, to cache them on disk (the key must be written owner-only).</summary>
    public (string CertificatePem, string KeyPem) ExportPem()
    {
        var certificates = string.Concat(new[] { Certificate }.Concat(Intermediates).Select(c => c.ExportCertificatePem() + "\n"));
        using AsymmetricAlgorithm key = (AsymmetricAlgorithm?)Certificate.GetECDsaPrivateKey() ?? Certificate.GetRSAPrivateKey()
            ?? throw new NotSupportedException("Only ECDSA and RSA keys can be exported.");
        return (certificates, key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Gets whether the certificate may be presented at <paramref name="now"/>: not expired.</summary>
    public bool IsUsableAt(DateTimeOffset now) => now < NotAfter;
}
