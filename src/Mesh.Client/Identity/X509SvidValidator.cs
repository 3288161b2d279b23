using System.Diagnostics.CodeAnalysis;
using System.Formats.Asn1;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Identity;

/// <summary>The outcome of validating a peer's X.509-SVID: its verified SPIFFE ID, or why it was refused.</summary>
/// <param name="Id">The verified SPIFFE ID; <see langword="null"/> when refused.</param>
/// <param name="Failure">Why the certificate was refused; <see cref="SvidFailure.None"/> when valid.</param>
/// <param name="Problem">A message saying why the certificate was refused, naming the identity it claims when it has one.</param>
internal readonly record struct SvidVerification(SpiffeId? Id, SvidFailure Failure, string? Problem)
{
    /// <summary>Gets whether the certificate is a valid X.509-SVID.</summary>
    [MemberNotNullWhen(true, nameof(Id))]
    [MemberNotNullWhen(false, nameof(Problem))]
    public bool IsValid => Failure == SvidFailure.None;

    internal static SvidVerification Valid(SpiffeId id) => new(id, SvidFailure.None, null);

    internal static SvidVerification Refused(SvidFailure failure, string problem) => new(null, failure, problem);
}

/// <summary>
/// Validates a peer's certificate as an X.509-SVID, as the X.509-SVID standard says: exactly one URI SAN holding a SPIFFE
/// ID with a path; a leaf (cA false, neither keyCertSign nor cRLSign); valid now; chained through the peer's
/// intermediates to a root of the bundle of the leaf's own trust domain — never another trust domain's roots, never the
/// system store. Other SANs (DNS names, IP addresses) and the subject are ignored.
/// </summary>
internal sealed class X509SvidValidator(TimeProvider time)
{
    /// <summary>Validates <paramref name="leaf"/>, with the certificates the peer sent with it, against <paramref name="bundle"/>.</summary>
    /// <param name="leaf">The peer's certificate; <see langword="null"/> when it sent none.</param>
    /// <param name="intermediates">The other certificates the peer sent (never trusted as anchors).</param>
    /// <param name="bundle">The roots trusted per trust domain.</param>
    public SvidVerification Validate(X509Certificate2? leaf, IEnumerable<X509Certificate2>? intermediates, TrustBundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        if (leaf is null)
        {
            return SvidVerification.Refused(SvidFailure.NoCertificate, "the peer presented no certificate");
        }

        var claimed = ReadId(leaf);
        if (!claimed.IsValid)
        {
            return claimed;
        }

        var id = claimed.Id;
        if (leaf.Extensions[X509Oids.BasicConstraints] is X509BasicConstraintsExtension { CertificateAuthority: true })
        {
            return SvidVerification.Refused(SvidFailure.CertificateAuthority, $"the certificate of '{id}' is a CA certificate (basic constraints cA=true); an X.509-SVID of a workload is a leaf");
        }

        if (leaf.Extensions[X509Oids.KeyUsage] is X509KeyUsageExtension usage)
        {
            if ((usage.KeyUsages & X509KeyUsageFlags.KeyCertSign) != 0)
            {
                return SvidVerification.Refused(SvidFailure.KeyCertSign, $"the certificate of '{id}' may sign certificates (key usage keyCertSign); an X.509-SVID leaf must not");
            }

            if ((usage.KeyUsages & X509KeyUsageFlags.CrlSign) != 0)
            {
                return SvidVerification.Refused(SvidFailure.CrlSign, $"the certificate of '{id}' may sign revocation lists (key usage cRLSign); an X.509-SVID leaf must not");
            }
        }

        var roots = bundle.GetRoots(id.TrustDomain);
        if (roots.IsEmpty)
        {
            var known = bundle.IsEmpty ? "the trust bundle holds no roots at all" : $"the trust bundle has roots only for {string.Join(", ", bundle.TrustDomains.Order(StringComparer.Ordinal).Select(d => $"'{d}'"))}";
            return SvidVerification.Refused(SvidFailure.NoRoots, $"the certificate of '{id}' cannot be verified: {known}, none for trust domain '{id.TrustDomain}'");
        }

        var now = time.GetUtcNow();
        if (now < NotBefore(leaf))
        {
            return SvidVerification.Refused(SvidFailure.NotYetValid, $"the certificate of '{id}' is not valid before {Format(NotBefore(leaf))} (now {Format(now)})");
        }

        if (now > NotAfter(leaf))
        {
            return SvidVerification.Refused(SvidFailure.Expired, $"the certificate of '{id}' expired at {Format(NotAfter(leaf))} (now {Format(now)})");
        }

        return Chain(leaf, intermediates, roots, id, now);
    }

    /// <summary>
    /// Validates the certificate a TLS peer presented, taking the certificates it sent with it from the chain .NET built
    /// (its <see cref="X509ChainPolicy.ExtraStore"/>). The chain's own verdict, made against the system store, is ignored.
    /// </summary>
    public SvidVerification Validate(X509Certificate? certificate, X509Chain? chain, TrustBundle bundle)
    {
        if (certificate is X509Certificate2 or null)
        {
            return Validate(certificate as X509Certificate2, chain?.ChainPolicy.ExtraStore, bundle);
        }

        using var copy = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return Validate(copy, chain?.ChainPolicy.ExtraStore, bundle);
    }

    /// <summary>Gets the start of a certificate's validity, in UTC.</summary>
    internal static DateTimeOffset NotBefore(X509Certificate2 certificate) => new(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);

    /// <summary>Gets the end of a certificate's validity, in UTC.</summary>
    internal static DateTimeOffset NotAfter(X509Certificate2 certificate) => new(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);

    /// <summary>Checks that a verified identity is the one expected, such as the identity an endpoint was registered with.</summary>
    /// <param name="presented">The identity the peer proved.</param>
    /// <param name="expected">The identity it must have.</param>
    /// <param name="problem">A message naming both identities when they differ.</param>
    /// <returns>Whether the identities are equal.</returns>
    public static bool IsExpected(SpiffeId presented, SpiffeId expected, [NotNullWhen(false)] out string? problem)
    {
        ArgumentNullException.ThrowIfNull(presented);
        ArgumentNullException.ThrowIfNull(expected);
        problem = presented == expected ? null : $"the peer presented the identity '{presented}' where '{expected}' was expected";
        return problem is null;
    }

    /// <summary>Reads the SPIFFE ID of a certificate: the one URI SAN, checked as an X.509-SVID leaf's ID.</summary>
    internal static SvidVerification ReadId(X509Certificate2 certificate)
    {
        var uris = new List<string>();
        var extensions = 0;
        foreach (var extension in certificate.Extensions)
        {
            if (extension.Oid?.Value != X509Oids.SubjectAlternativeName)
            {
                continue;
            }

            extensions++;
            if (!TryReadUris(extension.RawData, uris))
            {
                return SvidVerification.Refused(SvidFailure.NoUriSan, "the certificate's subject alternative name extension is malformed");
            }
        }

        if (extensions > 1)
        {
            return SvidVerification.Refused(SvidFailure.SeveralUriSans, $"the certificate has {extensions} subject alternative name extensions; an X.509-SVID has one, with exactly one URI");
        }

        switch (uris.Count)
        {
            case 0:
                return SvidVerification.Refused(SvidFailure.NoUriSan, "the certificate has no URI subject alternative name, so no SPIFFE ID");
            case > 1:
                return SvidVerification.Refused(SvidFailure.SeveralUriSans, $"the certificate has {uris.Count} URI subject alternative names ({string.Join(", ", uris.Select(Quote))}); an X.509-SVID has exactly one");
        }

        var uri = uris[0];
        if (!uri.StartsWith("spiffe:", StringComparison.OrdinalIgnoreCase))
        {
            return SvidVerification.Refused(SvidFailure.NotSpiffe, $"the certificate's URI subject alternative name {Quote(uri)} is not a SPIFFE ID (scheme spiffe)");
        }

        if (!SpiffeId.TryParse(uri, out var id, out var problem))
        {
            return SvidVerification.Refused(SvidFailure.InvalidSpiffeId, $"the certificate's URI subject alternative name {Quote(uri)} is not a valid SPIFFE ID: {problem}");
        }

        if (id.Path.Length == 0)
        {
            return SvidVerification.Refused(SvidFailure.RootPathOnly, $"the certificate's SPIFFE ID '{id}' has no path: it names a trust domain, which only a signing certificate may do, not a workload");
        }

        return SvidVerification.Valid(id);
    }

    /// <summary>Reads every URI subject alternative name of a certificate; empty when there is none or the extension is malformed.</summary>
    internal static IReadOnlyList<string> ReadUris(X509Certificate2 certificate)
    {
        var uris = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension.Oid?.Value == X509Oids.SubjectAlternativeName && !TryReadUris(extension.RawData, uris))
            {
                return [];
            }
        }

        return uris;
    }

    private static SvidVerification Chain(X509Certificate2 leaf, IEnumerable<X509Certificate2>? intermediates, IReadOnlyCollection<X509Certificate2> roots, SpiffeId id, DateTimeOffset now)
    {
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        foreach (var root in roots)
        {
            policy.CustomTrustStore.Add(root);
        }

        foreach (var intermediate in intermediates ?? [])
        {
            if (intermediate is not null && !intermediate.RawDataMemory.Span.SequenceEqual(leaf.RawDataMemory.Span))
            {
                policy.ExtraStore.Add(intermediate);
            }
        }

        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true;
        policy.VerificationTime = now.UtcDateTime;
        policy.VerificationTimeIgnored = false;
        var built = chain.Build(leaf);
        var anchor = chain.ChainElements.Count > 0 ? chain.ChainElements[^1].Certificate : null;
        if (built && anchor is not null && roots.Any(r => r.RawDataMemory.Span.SequenceEqual(anchor.RawDataMemory.Span)))
        {
            return SvidVerification.Valid(id);
        }

        var statuses = chain.ChainStatus.Length == 0
            ? "it ends at a certificate outside the bundle"
            : string.Join("; ", chain.ChainStatus.Select(s => string.IsNullOrWhiteSpace(s.StatusInformation) ? s.Status.ToString() : $"{s.Status}: {s.StatusInformation.Trim()}"));
        return SvidVerification.Refused(
            SvidFailure.Untrusted,
            $"the certificate of '{id}' (issuer '{leaf.Issuer}') does not chain to a root of trust domain '{id.TrustDomain}' in the trust bundle ({statuses})");
    }

    private static bool TryReadUris(byte[] der, List<string> uris)
    {
        // GeneralNames ::= SEQUENCE OF GeneralName; uniformResourceIdentifier is [6] IA5String.
        var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
        try
        {
            var reader = new AsnReader(der, AsnEncodingRules.DER);
            var names = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            while (names.HasData)
            {
                if (names.PeekTag().HasSameClassAndValue(uriTag))
                {
                    uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, uriTag));
                }
                else
                {
                    names.ReadEncodedValue();
                }
            }

            return true;
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    internal static string Format(DateTimeOffset value) => value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // A URI from a certificate is untrusted text: shown quoted and cut.
    private static string Quote(string value) => value.Length <= 200 ? $"'{value}'" : $"'{value[..200]}…'";
}
