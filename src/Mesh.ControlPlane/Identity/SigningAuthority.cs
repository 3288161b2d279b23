using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;

namespace Meshd.Identity;

/// <summary>
/// One CA certificate the CA can sign with, its private key, and the certificates above it up to a self-signed root:
/// a root meshd generated (ECDSA P-256), or a CA certificate of the user's own PKI with its chain.
/// </summary>
internal sealed class SigningAuthority
{
    internal const string CertificateFile = "certificate.pem";
    internal const string KeyFile = "key.pem";
    internal const string Generated = "generated";
    internal const string Supplied = "supplied";

    private SigningAuthority(X509Certificate2 certificate, ImmutableArray<X509Certificate2> chain, string origin)
    {
        Certificate = certificate;
        Chain = chain;
        Origin = origin;
        Id = FingerprintOf(certificate);
        NotAfter = new[] { certificate }.Concat(chain).Min(c => X509SvidValidator.NotAfter(c));
        if (certificate.GetECDsaPrivateKey() is { } ecdsa)
        {
            Generator = X509SignatureGenerator.CreateForECDsa(ecdsa);
            Hash = ecdsa.KeySize switch
            {
                <= 256 => HashAlgorithmName.SHA256,
                <= 384 => HashAlgorithmName.SHA384,
                _ => HashAlgorithmName.SHA512,
            };
        }
        else if (certificate.GetRSAPrivateKey() is { } rsa)
        {
            Generator = X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1);
            Hash = HashAlgorithmName.SHA256;
        }
        else
        {
            throw new InvalidDataException($"The CA certificate '{certificate.Subject}' has neither an ECDSA nor an RSA private key.");
        }
    }

    /// <summary>Gets the authority's id: the SHA-256 fingerprint of its certificate, lower-case hexadecimal.</summary>
    public string Id { get; }

    /// <summary>Gets the CA certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Gets the certificates above <see cref="Certificate"/>, its issuer first, the self-signed root last; empty when it is a root.</summary>
    public ImmutableArray<X509Certificate2> Chain { get; }

    /// <summary>Gets the root this authority's certificates chain to, the one put in the trust bundle.</summary>
    public X509Certificate2 Root => Chain.IsEmpty ? Certificate : Chain[^1];

    /// <summary>Gets <see cref="Generated"/> or <see cref="Supplied"/>.</summary>
    public string Origin { get; }

    /// <summary>Gets the earliest expiry of the certificate and its chain: nothing it signs may outlive it.</summary>
    public DateTimeOffset NotAfter { get; }

    /// <summary>Gets the signer of new certificates.</summary>
    public X509SignatureGenerator Generator { get; }

    /// <summary>Gets the hash the signatures are made with, matched to the key's strength.</summary>
    public HashAlgorithmName Hash { get; }

    /// <summary>Gets the certificates a workload sends after its own: this authority and those above it, but not the root, which peers have.</summary>
    public IEnumerable<X509Certificate2> Intermediates => Chain.IsEmpty ? [] : new[] { Certificate }.Concat(Chain.Take(Chain.Length - 1));

    /// <summary>Makes a new root: ECDSA P-256, cA with path length 0 (it signs workloads only), keyCertSign and cRLSign, and the trust domain's SPIFFE ID.</summary>
    public static SigningAuthority Generate(string trustDomain, TimeSpan lifetime, DateTimeOffset now, RandomNumberGenerator random)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var publicKey = key.ExportSubjectPublicKeyInfo();

        // A short mark of the key in the name, so two roots of one trust domain never share a subject (chain building matches by name).
        var mark = Convert.ToHexStringLower(SHA256.HashData(publicKey).AsSpan(0, 4));
        var name = new X500DistinguishedNameBuilder();
        name.AddOrganizationName(trustDomain);
        name.AddCommonName($"Mesh CA {mark}");
        var request = new CertificateRequest(name.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(SpiffeSan.Create(SpiffeId.Parse($"spiffe://{trustDomain}"), critical: false));
        using var signed = request.Create(request.SubjectName, X509SignatureGenerator.CreateForECDsa(key), now.AddHours(-1), now + lifetime, Serial(random));

        // Through PEM, so the certificate holds its own copy of the key.
        return new SigningAuthority(X509Certificate2.CreateFromPem(signed.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem()), [], Generated);
    }

    /// <summary>
    /// Reads and checks an authority from PEM: <paramref name="certificatePem"/> starts with the CA certificate (and may go on
    /// with its chain), <paramref name="keyPem"/> is its key, <paramref name="chainPem"/> the certificates above it up to the
    /// self-signed root. The certificate must be a CA valid now, its key ECDSA (P-256, P-384, P-521) or RSA (2048 bits or
    /// more) and matching, its chain complete and valid, and any SPIFFE ID in it of <paramref name="trustDomain"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">Anything of that is not so; the message says what, naming <paramref name="source"/>, never the key.</exception>
    public static SigningAuthority FromPem(string certificatePem, string keyPem, string? chainPem, string origin, string trustDomain, DateTimeOffset now, string source) =>
        FromPem(certificatePem, keyPem, chainPem, origin, trustDomain, now, source, checkTime: true);

    /// <summary>Reads an authority back from its directory, checked as when it was added except for time: an expired authority must not keep meshd from starting, or it could not be rotated.</summary>
    public static SigningAuthority Load(string directory, string origin, string trustDomain, DateTimeOffset now)
    {
        var certificatePath = Path.Combine(directory, CertificateFile);
        var keyPath = Path.Combine(directory, KeyFile);
        return FromPem(File.ReadAllText(certificatePath), File.ReadAllText(keyPath), null, origin, trustDomain, now, $"{certificatePath} with {keyPath}", checkTime: false);
    }

    private static SigningAuthority FromPem(string certificatePem, string keyPem, string? chainPem, string origin, string trustDomain, DateTimeOffset now, string source, bool checkTime)
    {
        var (certificate, above) = PemCertificates.ReadWithKey(certificatePem, chainPem, keyPem, source);
        var chain = above.ToImmutableArray();
        Check(certificate, chain, trustDomain, now, source, checkTime);
        return new SigningAuthority(certificate, chain, origin);
    }

    /// <summary>Writes the authority into its directory: the certificate and chain world-readable, the key owner-only.</summary>
    public void Save(string directory)
    {
        CaFiles.CreateDirectory(directory);
        using AsymmetricAlgorithm key = (AsymmetricAlgorithm?)Certificate.GetECDsaPrivateKey() ?? Certificate.GetRSAPrivateKey()!;
        CaFiles.Write(Path.Combine(directory, KeyFile), key.ExportPkcs8PrivateKeyPem(), secret: true);
        CaFiles.Write(Path.Combine(directory, CertificateFile), string.Concat(new[] { Certificate }.Concat(Chain).Select(c => c.ExportCertificatePem() + "\n")), secret: false);
    }

    /// <summary>Returns the SHA-256 fingerprint of a certificate, lower-case hexadecimal: the id of an authority.</summary>
    internal static string FingerprintOf(X509Certificate2 certificate) => Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256));

    /// <summary>Returns a positive serial of 16 random bytes, its first byte kept from 0x40 to 0x7F so it is never negative nor shortened.</summary>
    internal static byte[] Serial(RandomNumberGenerator random)
    {
        var serial = new byte[16];
        random.GetBytes(serial);
        serial[0] = (byte)((serial[0] & 0x3F) | 0x40);
        return serial;
    }

    private static void Check(X509Certificate2 certificate, ImmutableArray<X509Certificate2> chain, string trustDomain, DateTimeOffset now, string source, bool checkTime)
    {
        if (certificate.Extensions[X509Oids.BasicConstraints] is not X509BasicConstraintsExtension { CertificateAuthority: true })
        {
            throw new InvalidDataException($"{source}: '{certificate.Subject}' is not a CA certificate (basic constraints cA is not true).");
        }

        if (certificate.Extensions[X509Oids.KeyUsage] is X509KeyUsageExtension usage && (usage.KeyUsages & X509KeyUsageFlags.KeyCertSign) == 0)
        {
            throw new InvalidDataException($"{source}: '{certificate.Subject}' may not sign certificates (no keyCertSign in its key usage).");
        }

        if (CertificateAuthority.CheckKey(certificate.PublicKey) is { } keyProblem)
        {
            throw new InvalidDataException($"{source}: the key of '{certificate.Subject}' is not accepted: {keyProblem}.");
        }

        var root = chain.IsEmpty ? certificate : chain[^1];
        if (!root.SubjectName.RawData.AsSpan().SequenceEqual(root.IssuerName.RawData))
        {
            throw new InvalidDataException($"{source}: the chain ends at '{root.Subject}', which is not self-signed; give the certificates up to and including the root of your PKI.");
        }

        using (var x509Chain = new X509Chain())
        {
            var policy = x509Chain.ChainPolicy;
            policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            policy.CustomTrustStore.Add(root);
            foreach (var middle in chain)
            {
                policy.ExtraStore.Add(middle);
            }

            policy.RevocationMode = X509RevocationMode.NoCheck;
            policy.DisableCertificateDownloads = true;
            policy.VerificationTime = now.UtcDateTime;
            policy.VerificationTimeIgnored = false;
            if (!checkTime)
            {
                policy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid;
            }

            if (!x509Chain.Build(certificate))
            {
                var statuses = string.Join("; ", x509Chain.ChainStatus.Select(s => $"{s.Status}: {s.StatusInformation.Trim()}"));
                throw new InvalidDataException($"{source}: '{certificate.Subject}' does not chain to the root '{root.Subject}' at {X509SvidValidator.Format(now)} ({statuses}).");
            }
        }

        foreach (var uri in X509SvidValidator.ReadUris(certificate))
        {
            if (SpiffeId.TryParse(uri, out var id) && id.TrustDomain != trustDomain)
            {
                throw new InvalidDataException($"{source}: '{certificate.Subject}' carries the SPIFFE ID '{id}' of another trust domain than '{trustDomain}'.");
            }
        }
    }
}
