using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Testing;

/// <summary>
/// A certificate authority made in the test (ECDSA P-256), to issue roots, intermediates and leaves with exactly the
/// extensions a test needs — including the wrong ones. Names are written byte for byte, never normalized.
/// </summary>
public sealed class TestPki : IDisposable
{
    private static readonly Oid SanOid = new("2.5.29.17", null);
    private readonly ECDsa _key;

    private TestPki(X509Certificate2 certificate, ECDsa key, IReadOnlyList<X509Certificate2> chain)
    {
        Certificate = certificate;
        _key = key;
        Chain = chain;
    }

    /// <summary>Gets the authority's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Gets the certificates above this one, its issuer first and the root last; empty for a root.</summary>
    public IReadOnlyList<X509Certificate2> Chain { get; }

    /// <summary>Gets the root at the top of this authority's chain (itself for a root).</summary>
    public X509Certificate2 Root => Chain.Count == 0 ? Certificate : Chain[^1];

    /// <summary>Gets the authority's certificate as PEM.</summary>
    public string CertificatePem => Certificate.ExportCertificatePem();

    /// <summary>Gets the authority's private key as PKCS#8 PEM.</summary>
    public string KeyPem => _key.ExportPkcs8PrivateKeyPem();

    /// <summary>Creates a self-signed root, valid from a day before <paramref name="now"/> to a year after it.</summary>
    /// <param name="name">The common name.</param>
    /// <param name="now">The instant the validity is centred on; the current time when omitted.</param>
    /// <param name="trustDomain">When given, the root carries the SPIFFE ID of the trust domain as its URI SAN.</param>
    public static TestPki CreateRoot(string name = "Test Root", DateTimeOffset? now = null, string? trustDomain = null)
    {
        var at = now ?? DateTimeOffset.UtcNow;
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        AddAuthorityExtensions(request, trustDomain);
        var certificate = request.CreateSelfSigned(at.AddDays(-1), at.AddYears(1));
        return new TestPki(certificate, key, []);
    }

    /// <summary>Creates an intermediate authority signed by this one.</summary>
    public TestPki CreateIntermediate(string name = "Test Intermediate", DateTimeOffset? now = null, string? trustDomain = null)
    {
        var at = now ?? DateTimeOffset.UtcNow;
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        AddAuthorityExtensions(request, trustDomain);
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using var signed = request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(_key), at.AddHours(-12), at.AddMonths(6), Serial());
        return new TestPki(signed.CopyWithPrivateKey(key), key, [Certificate, .. Chain]);
    }

    /// <summary>Issues a leaf as <paramref name="leaf"/> describes (by default a valid X.509-SVID for <c>spiffe://mesh.local/svc/test</c>), with its private key.</summary>
    public X509Certificate2 Issue(TestLeaf? leaf = null)
    {
        leaf ??= new TestLeaf();
        var at = leaf.Now ?? DateTimeOffset.UtcNow;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName(leaf.Subject), key, HashAlgorithmName.SHA256);
        if (leaf.Uris.Count > 0 || leaf.DnsNames.Count > 0)
        {
            request.CertificateExtensions.Add(SubjectAlternativeName(leaf.Uris, leaf.DnsNames, leaf.SanCritical));
        }

        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(leaf.CertificateAuthority, false, 0, critical: true));
        if (leaf.KeyUsage is { } usage)
        {
            request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, critical: true));
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var notBefore = leaf.NotBefore ?? at.AddMinutes(-5);
        var notAfter = leaf.NotAfter ?? at.AddHours(1);
        using var signed = request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(_key), notBefore, notAfter, Serial());
        var der = signed.RawData;
        if (leaf.SecondSanExtension is { } second)
        {
            // CertificateRequest refuses a repeated extension, so the second one is spliced in and the certificate signed again.
            der = AppendExtensionAndSign(der, SubjectAlternativeName([second], [], leaf.SanCritical));
        }

        // Through PEM, so the certificate holds its own copy of the key.
        return X509Certificate2.CreateFromPem(PemEncoding.WriteString("CERTIFICATE", der), key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Returns the leaf's certificate followed by this authority's chain up to, not including, the root, as PEM.</summary>
    public string ChainPem(X509Certificate2 leaf)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        var parts = new List<X509Certificate2> { leaf };
        if (Chain.Count > 0)
        {
            parts.Add(Certificate);
            parts.AddRange(Chain.Take(Chain.Count - 1));
        }

        return string.Concat(parts.Select(c => c.ExportCertificatePem() + "\n"));
    }

    /// <summary>Returns the private key of a leaf made by <see cref="Issue"/> as PKCS#8 PEM.</summary>
    public static string KeyPemOf(X509Certificate2 leaf)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        using var key = leaf.GetECDsaPrivateKey() ?? throw new ArgumentException("The certificate has no ECDSA private key.", nameof(leaf));
        return key.ExportPkcs8PrivateKeyPem();
    }

    /// <inheritdoc />
    public void Dispose() => _key.Dispose();

    /// <summary>Writes a subject alternative name extension holding exactly the given URIs and DNS names.</summary>
    public static X509Extension SubjectAlternativeName(IEnumerable<string> uris, IEnumerable<string> dnsNames, bool critical)
    {
        ArgumentNullException.ThrowIfNull(uris);
        ArgumentNullException.ThrowIfNull(dnsNames);
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var dns in dnsNames)
            {
                writer.WriteCharacterString(UniversalTagNumber.IA5String, dns, new Asn1Tag(TagClass.ContextSpecific, 2));
            }

            foreach (var uri in uris)
            {
                writer.WriteCharacterString(UniversalTagNumber.IA5String, uri, new Asn1Tag(TagClass.ContextSpecific, 6));
            }
        }

        return new X509Extension(SanOid, writer.Encode(), critical);
    }

    private byte[] AppendExtensionAndSign(byte[] certificate, X509Extension extension)
    {
        // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }; the extensions are the TBS's last field, [3] EXPLICIT.
        var outer = new AsnReader(certificate, AsnEncodingRules.DER).ReadSequence();
        var tbs = outer.ReadSequence();
        var algorithm = outer.ReadEncodedValue().ToArray();
        var fields = new List<byte[]>();
        var extensions = new List<byte[]>();
        var extensionsTag = new Asn1Tag(TagClass.ContextSpecific, 3, isConstructed: true);
        while (tbs.HasData)
        {
            if (tbs.PeekTag().HasSameClassAndValue(extensionsTag))
            {
                var list = tbs.ReadSequence(extensionsTag).ReadSequence();
                while (list.HasData)
                {
                    extensions.Add(list.ReadEncodedValue().ToArray());
                }
            }
            else
            {
                fields.Add(tbs.ReadEncodedValue().ToArray());
            }
        }

        var added = new AsnWriter(AsnEncodingRules.DER);
        using (added.PushSequence())
        {
            added.WriteObjectIdentifier(extension.Oid!.Value!);
            if (extension.Critical)
            {
                added.WriteBoolean(true);
            }

            added.WriteOctetString(extension.RawData);
        }

        extensions.Add(added.Encode());
        var body = new AsnWriter(AsnEncodingRules.DER);
        using (body.PushSequence())
        {
            foreach (var field in fields)
            {
                body.WriteEncodedValue(field);
            }

            using (body.PushSequence(extensionsTag))
            using (body.PushSequence())
            {
                foreach (var item in extensions)
                {
                    body.WriteEncodedValue(item);
                }
            }
        }

        var tbsBytes = body.Encode();
        var whole = new AsnWriter(AsnEncodingRules.DER);
        using (whole.PushSequence())
        {
            whole.WriteEncodedValue(tbsBytes);
            whole.WriteEncodedValue(algorithm);
            whole.WriteBitString(_key.SignData(tbsBytes, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        }

        return whole.Encode();
    }

    private static void AddAuthorityExtensions(CertificateRequest request, string? trustDomain)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        if (trustDomain is not null)
        {
            request.CertificateExtensions.Add(SubjectAlternativeName([$"spiffe://{trustDomain}"], [], critical: false));
        }
    }

    private static byte[] Serial()
    {
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x40);
        return serial;
    }
}

/// <summary>What a leaf issued by <see cref="TestPki.Issue"/> holds; the defaults make a valid X.509-SVID.</summary>
public sealed record TestLeaf
{
    /// <summary>Gets the URI SANs.</summary>
    public IReadOnlyList<string> Uris { get; init; } = ["spiffe://mesh.local/svc/test"];

    /// <summary>Gets the DNS SANs.</summary>
    public IReadOnlyList<string> DnsNames { get; init; } = [];

    /// <summary>Gets a URI put in a second subject alternative name extension, when set.</summary>
    public string? SecondSanExtension { get; init; }

    /// <summary>Gets whether the SAN extension is critical.</summary>
    public bool SanCritical { get; init; }

    /// <summary>Gets the subject, such as <c>CN=test</c>; empty for none.</summary>
    public string Subject { get; init; } = "CN=test";

    /// <summary>Gets whether basic constraints say cA=true.</summary>
    public bool CertificateAuthority { get; init; }

    /// <summary>Gets the key usage; <see langword="null"/> for no key usage extension.</summary>
    public X509KeyUsageFlags? KeyUsage { get; init; } = X509KeyUsageFlags.DigitalSignature;

    /// <summary>Gets the instant the default validity is centred on; the current time when omitted.</summary>
    public DateTimeOffset? Now { get; init; }

    /// <summary>Gets the start of validity; five minutes before <see cref="Now"/> when omitted.</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>Gets the end of validity; an hour after <see cref="Now"/> when omitted.</summary>
    public DateTimeOffset? NotAfter { get; init; }
}
