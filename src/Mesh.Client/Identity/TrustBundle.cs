using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Mesh.Identity;

/// <summary>
/// The roots trusted for each trust domain: the only anchors a peer's certificate may chain to, never the system store.
/// A trust domain may have several roots at once, so a root can be rotated (A, then A and B, then B). Immutable; a new
/// bundle replaces the old one whole.
/// </summary>
internal sealed class TrustBundle
{
    private readonly FrozenDictionary<string, ImmutableArray<X509Certificate2>> _roots;

    private TrustBundle(FrozenDictionary<string, ImmutableArray<X509Certificate2>> roots)
    {
        _roots = roots;
    }

    /// <summary>Gets a bundle that trusts nothing.</summary>
    public static TrustBundle Empty { get; } = new(FrozenDictionary<string, ImmutableArray<X509Certificate2>>.Empty);

    /// <summary>Gets the trust domains the bundle has roots for.</summary>
    public IEnumerable<string> TrustDomains => _roots.Keys;

    /// <summary>Gets whether the bundle has no root at all.</summary>
    public bool IsEmpty => _roots.Count == 0;

    /// <summary>Creates a bundle with the roots of one trust domain.</summary>
    /// <exception cref="ArgumentException">The trust domain is invalid.</exception>
    /// <exception cref="InvalidDataException">There is no root, or one is not a self-signed CA certificate.</exception>
    public static TrustBundle Create(string trustDomain, IEnumerable<X509Certificate2> roots) => Empty.With(trustDomain, roots);

    /// <summary>Reads the roots of one trust domain from PEM text holding one or more <c>CERTIFICATE</c> blocks.</summary>
    /// <param name="trustDomain">The trust domain the roots are for.</param>
    /// <param name="pem">The PEM text.</param>
    /// <param name="source">Where the text came from, for error messages, such as a file path.</param>
    /// <exception cref="InvalidDataException">The text holds no certificate, a malformed one, or one that is not a self-signed CA certificate.</exception>
    public static TrustBundle FromPem(string trustDomain, string pem, string source = "the PEM text") => Empty.With(trustDomain, ReadPem(pem, source), source);

    /// <summary>Reads the roots of one trust domain from a PEM file.</summary>
    /// <exception cref="InvalidDataException">The file holds no certificate, a malformed one, or one that is not a self-signed CA certificate.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static TrustBundle FromPemFile(string trustDomain, string path) => FromPem(trustDomain, File.ReadAllText(path), path);

    /// <summary>Reads every <c>CERTIFICATE</c> block of PEM text, in order; other blocks are ignored.</summary>
    /// <exception cref="InvalidDataException">A certificate block is malformed.</exception>
    internal static List<X509Certificate2> ReadPem(string pem, string source)
    {
        ArgumentNullException.ThrowIfNull(pem);
        var certificates = new List<X509Certificate2>();
        var rest = pem.AsSpan();
        var found = false;
        while (PemEncoding.TryFind(rest, out var fields))
        {
            if (rest[fields.Label].SequenceEqual("CERTIFICATE"))
            {
                var der = new byte[fields.DecodedDataLength];
                if (!Convert.TryFromBase64Chars(rest[fields.Base64Data], der, out var written) || written != der.Length)
                {
                    throw new InvalidDataException($"{source}: certificate {certificates.Count + 1} is not valid base64.");
                }

                try
                {
                    certificates.Add(X509CertificateLoader.LoadCertificate(der));
                }
                catch (CryptographicException ex)
                {
                    throw new InvalidDataException($"{source}: certificate {certificates.Count + 1} is not a readable X.509 certificate ({ex.Message})", ex);
                }
            }

            rest = rest[fields.Location.End..];
            found = true;
        }

        if (!found && pem.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{source}: the text has PEM markers but no well-formed PEM block (each '-----BEGIN CERTIFICATE-----' line needs its '-----END CERTIFICATE-----' line, followed by a line break or the end of the text).");
        }

        return certificates;
    }

    /// <summary>Gets the roots of a trust domain; empty when the bundle has none for it.</summary>
    public ImmutableArray<X509Certificate2> GetRoots(string trustDomain) =>
        _roots.TryGetValue(trustDomain, out var roots) ? roots : ImmutableArray<X509Certificate2>.Empty;

    /// <summary>Returns a bundle with the roots of <paramref name="trustDomain"/> replaced by <paramref name="roots"/>; the other trust domains are kept.</summary>
    /// <exception cref="ArgumentException">The trust domain is invalid.</exception>
    /// <exception cref="InvalidDataException">There is no root, or one is not a self-signed CA certificate.</exception>
    public TrustBundle With(string trustDomain, IEnumerable<X509Certificate2> roots) => With(trustDomain, roots, "the trust bundle");

    /// <summary>Returns a bundle without the roots of <paramref name="trustDomain"/>.</summary>
    public TrustBundle Without(string trustDomain)
    {
        var all = new Dictionary<string, ImmutableArray<X509Certificate2>>(_roots, StringComparer.Ordinal);
        all.Remove(trustDomain);
        return new TrustBundle(all.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>Returns the roots of a trust domain as PEM text, one <c>CERTIFICATE</c> block each.</summary>
    public string ToPem(string trustDomain)
    {
        var text = new StringBuilder();
        foreach (var root in GetRoots(trustDomain))
        {
            text.Append(root.ExportCertificatePem()).Append('\n');
        }

        return text.ToString();
    }

    private TrustBundle With(string trustDomain, IEnumerable<X509Certificate2> roots, string source)
    {
        ArgumentNullException.ThrowIfNull(roots);
        if (SpiffeId.CheckTrustDomain(trustDomain) is { } problem)
        {
            throw new ArgumentException($"'{trustDomain}' is not a valid trust domain: {problem}.", nameof(trustDomain));
        }

        var kept = ImmutableArray.CreateBuilder<X509Certificate2>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var root in roots)
        {
            ArgumentNullException.ThrowIfNull(root);
            if (CheckRoot(root) is { } rootProblem)
            {
                throw new InvalidDataException($"{source}: the certificate '{root.Subject}' (SHA-256 {root.GetCertHashString(HashAlgorithmName.SHA256)}) cannot be a root of trust domain '{trustDomain}': {rootProblem}.");
            }

            if (seen.Add(root.GetCertHashString(HashAlgorithmName.SHA256)))
            {
                kept.Add(root);
            }
        }

        if (kept.Count == 0)
        {
            throw new InvalidDataException($"{source}: the trust bundle of trust domain '{trustDomain}' holds no root certificate; at least one PEM CERTIFICATE block is needed.");
        }

        var all = new Dictionary<string, ImmutableArray<X509Certificate2>>(_roots, StringComparer.Ordinal)
        {
            [trustDomain] = kept.ToImmutable(),
        };
        return new TrustBundle(all.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private static string? CheckRoot(X509Certificate2 certificate)
    {
        if (certificate.Extensions[X509Oids.BasicConstraints] is not X509BasicConstraintsExtension { CertificateAuthority: true })
        {
            return "it is not a CA certificate (basic constraints cA is not true)";
        }

        if (certificate.Extensions[X509Oids.KeyUsage] is X509KeyUsageExtension usage && (usage.KeyUsages & X509KeyUsageFlags.KeyCertSign) == 0)
        {
            return "its key usage does not allow signing certificates (keyCertSign)";
        }

        // .NET only accepts a self-signed anchor in a custom trust store: an intermediate there never validates anything.
        if (!certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData) || !IsSelfSigned(certificate))
        {
            return "it is not self-signed; the bundle must hold the self-signed root at the top of the chain";
        }

        return null;
    }

    private static bool IsSelfSigned(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;

        // Whether a root has expired is the validator's business; here only its self-signature counts.
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid;
        return chain.Build(certificate) && chain.ChainElements.Count == 1;
    }
}
