using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Mesh.Identity;

namespace Meshd.Identity;

/// <summary>
/// meshd's certificate authority. It signs a workload's PKCS#10 request into an X.509-SVID for the one service the caller
/// was authorised for — the identity comes from that service name and the trust domain, never from the request — and keeps
/// the trust bundle: the roots of every authority it has, so a root can be rotated (A → A+B → sign with B → B only).
/// </summary>
/// <remarks>
/// <para>
/// Its files live in <c>{DataDirectory}/ca</c>: <c>state.json</c> (which authorities exist, which one signs) and
/// <c>authorities/{id}/certificate.pem</c> and <c>key.pem</c> (0600, in 0700 directories). At the first start it
/// generates a root (ECDSA P-256) or imports the CA certificate, key and chain of the user's PKI; afterwards the files
/// rule, and every change is written before it takes effect, so it survives a restart.
/// </para>
/// <para>
/// Keys accepted in a request: ECDSA on P-256, P-384 or P-521; RSA of 2048 to 8192 bits with public exponent 65537.
/// Everything else (smaller RSA, other curves, Ed25519, DSA) is refused, as is a request whose signature does not verify.
/// Every certificate has: exactly one URI SAN, critical, with an empty subject; basic constraints cA=false, critical; key
/// usage digitalSignature only, critical; extended key usage serverAuth and clientAuth; a random 16-byte serial; NotBefore
/// set back by <see cref="CertificateAuthorityOptions.ClockSkew"/> (at most a tenth of the lifetime); a lifetime of
/// <see cref="CertificateAuthorityOptions.DefaultTtl"/> or the one asked, within 5 seconds and
/// <see cref="CertificateAuthorityOptions.MaxTtl"/>, and never past the signing certificate's own expiry.
/// </para>
/// <para>It is thread-safe: signing reads one immutable snapshot; the operations that change authorities are serialized.</para>
/// <para>Nothing it logs holds key material. With meshd on several replicas, each has its own directory: supply the CA as files, the same on each.</para>
/// </remarks>
internal sealed partial class CertificateAuthority
{
    internal const string DirectoryName = "ca";
    internal const string StateFile = "state.json";
    internal const string AuthoritiesDirectory = "authorities";
    internal const int MaxRequestLength = 16 * 1024;

    private static readonly ImmutableHashSet<string> AcceptedCurves = ImmutableHashSet.Create(StringComparer.Ordinal, "1.2.840.10045.3.1.7", "1.3.132.0.34", "1.3.132.0.35");

    private readonly CertificateAuthorityOptions _options;
    private readonly string _directory;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RandomNumberGenerator _random;
    private readonly Lock _changeLock = new();
    private volatile Snapshot _snapshot;

    private CertificateAuthority(CertificateAuthorityOptions options, string directory, TimeProvider time, ILogger logger, RandomNumberGenerator random, Snapshot snapshot)
    {
        _options = options;
        _directory = directory;
        _time = time;
        _logger = logger;
        _random = random;
        _snapshot = snapshot;
    }

    /// <summary>Gets the trust domain of every identity the CA signs.</summary>
    public string TrustDomain => _options.TrustDomain;

    /// <summary>Gets the trust bundle: the root of every authority, the active one's first.</summary>
    public TrustBundle Bundle => _snapshot.Bundle;

    /// <summary>Gets the trust bundle as PEM, as it is served to workloads.</summary>
    public string BundlePem => _snapshot.Bundle.ToPem(_options.TrustDomain);

    /// <summary>Gets the authorities, the active one first.</summary>
    public IReadOnlyList<AuthorityInfo> Authorities => _snapshot.Describe();

    /// <summary>Opens the CA in <c>{DataDirectory}/ca</c>, making it at the first start: from the user's PEM files when given, else a new root.</summary>
    /// <exception cref="InvalidOperationException">The options are invalid, or the directory holds a CA of another trust domain.</exception>
    /// <exception cref="InvalidDataException">A file of the CA or a supplied PEM file is unusable; the message names it.</exception>
    public static CertificateAuthority Open(CertificateAuthorityOptions options, TimeProvider time, ILogger logger, RandomNumberGenerator? random = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        if (options.Validate("Meshd:Identity") is { Count: > 0 } failures)
        {
            throw new InvalidOperationException(string.Join(" ", failures));
        }

        random ??= RandomNumberGenerator.Create();
        var directory = Path.Combine(Path.GetFullPath(options.DataDirectory), DirectoryName);
        CaFiles.CreateDirectory(directory);
        CaFiles.CreateDirectory(Path.Combine(directory, AuthoritiesDirectory));
        CaFiles.RemoveLeftovers(directory);
        var statePath = Path.Combine(directory, StateFile);
        var now = time.GetUtcNow();
        if (!File.Exists(statePath))
        {
            var first = options.CertificatePath is { } certificatePath
                ? SigningAuthority.FromPem(
                    File.ReadAllText(certificatePath),
                    File.ReadAllText(options.KeyPath!),
                    options.ChainPath is { } chainPath ? File.ReadAllText(chainPath) : null,
                    SigningAuthority.Supplied,
                    options.TrustDomain,
                    now,
                    $"Meshd:Identity:CertificatePath '{certificatePath}'")
                : SigningAuthority.Generate(options.TrustDomain, options.RootLifetime, now, random);
            var state = new CertificateAuthorityState(CertificateAuthorityState.CurrentVersion, options.TrustDomain, first.Id, [new AuthorityRecord(first.Id, first.Origin, now, null)]);
            var created = new CertificateAuthority(options, directory, time, logger, random, Snapshot.Create(state, [first], options.TrustDomain));
            created.Commit(state, added: first);
            LogCreated(logger, first.Origin, first.Id, first.Certificate.Subject, first.NotAfter, directory);
            return created;
        }

        var loaded = JsonSerializer.Deserialize(File.ReadAllText(statePath), CertificateAuthorityJson.Default.CertificateAuthorityState)
            ?? throw new InvalidDataException($"{statePath}: empty.");
        if (loaded.Version != CertificateAuthorityState.CurrentVersion)
        {
            throw new InvalidDataException($"{statePath}: version {loaded.Version} is not understood (this meshd reads version {CertificateAuthorityState.CurrentVersion}).");
        }

        if (loaded.TrustDomain != options.TrustDomain)
        {
            throw new InvalidOperationException(
                $"Meshd:Identity:TrustDomain is '{options.TrustDomain}' but the CA in {directory} belongs to trust domain '{loaded.TrustDomain}'; a new trust domain needs a new CA (move that directory away), and every workload a new certificate.");
        }

        var authorities = loaded.Authorities.Select(r => SigningAuthority.Load(Path.Combine(directory, AuthoritiesDirectory, r.Id), r.Origin, options.TrustDomain, now)).ToList();
        foreach (var (record, authority) in loaded.Authorities.Zip(authorities))
        {
            if (record.Id != authority.Id)
            {
                throw new InvalidDataException($"{Path.Combine(directory, AuthoritiesDirectory, record.Id)}: holds the certificate {authority.Id}, not {record.Id}.");
            }
        }

        RemoveUnlisted(directory, loaded);
        var snapshot = Snapshot.Create(loaded, authorities, options.TrustDomain);
        if (options.CertificatePath is { } configured && !IsKnown(configured, authorities))
        {
            LogSuppliedIgnored(logger, configured, directory);
        }

        LogOpened(logger, snapshot.Active.Id, snapshot.Active.NotAfter, authorities.Count, directory);
        return new CertificateAuthority(options, directory, time, logger, random, snapshot);
    }

    /// <summary>
    /// Signs <paramref name="requestPem"/> into an X.509-SVID for <paramref name="serviceName"/>, the service the caller holds
    /// a credential for; nothing in the request but its public key is used.
    /// </summary>
    /// <param name="requestPem">The PKCS#10 request, as PEM (<c>CERTIFICATE REQUEST</c>).</param>
    /// <param name="serviceName">The service the caller was authorised for; the certificate says <c>spiffe://{TrustDomain}/svc/{serviceName}</c>.</param>
    /// <param name="ttl">The lifetime asked; <see langword="null"/> for the default. Bounded to 5 seconds … MaxTtl.</param>
    /// <exception cref="CertificateRequestRefusedException">The request is malformed or too large, its signature does not verify, or its key is not accepted.</exception>
    /// <exception cref="ArgumentException">The service name cannot be part of a SPIFFE ID, or the lifetime is not positive.</exception>
    /// <exception cref="InvalidOperationException">The signing certificate expires too soon to sign anything; a root rotation is due.</exception>
    public IssuedSvid Sign(string requestPem, string serviceName, TimeSpan? ttl = null)
    {
        ArgumentNullException.ThrowIfNull(requestPem);
        ArgumentNullException.ThrowIfNull(serviceName);
        if (ttl is { } asked && asked <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), asked, "The lifetime asked must be positive.");
        }

        var id = SpiffeId.ForService(_options.TrustDomain, serviceName);
        var publicKey = ReadRequest(requestPem);
        var authority = _snapshot.Active;
        var now = _time.GetUtcNow();
        var lifetime = ttl is { } wish ? TimeSpan.FromTicks(Math.Clamp(wish.Ticks, CertificateAuthorityOptions.MinTtl.Ticks, _options.MaxTtl.Ticks)) : _options.DefaultTtl;
        var notAfter = now + lifetime < authority.NotAfter ? now + lifetime : authority.NotAfter;
        if (notAfter - now < CertificateAuthorityOptions.MinTtl)
        {
            throw new InvalidOperationException($"The signing certificate {authority.Id} expires at {X509SvidValidator.Format(authority.NotAfter)}, too soon to sign; add a new root and activate it.");
        }

        // Backdated for clocks a little behind, but never by more than a tenth of the lifetime, or a short-lived certificate would be due for renewal when issued.
        var skew = TimeSpan.FromTicks(Math.Min(_options.ClockSkew.Ticks, lifetime.Ticks / 10));
        var request = new CertificateRequest(new X500DistinguishedName(string.Empty), publicKey, authority.Hash);
        request.CertificateExtensions.Add(SpiffeSan.Create(id, critical: true));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(X509Oids.ServerAuth, null), new Oid(X509Oids.ClientAuth, null)], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(publicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority.Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var certificate = request.Create(authority.Certificate.SubjectName, authority.Generator, now - skew, notAfter, SigningAuthority.Serial(_random));
        var chainPem = string.Concat(new[] { certificate }.Concat(authority.Intermediates).Select(c => c.ExportCertificatePem() + "\n"));
        var issued = new IssuedSvid(certificate, chainPem, id, authority.Id);
        LogIssued(_logger, id.ToString(), issued.SerialNumber, issued.NotAfter, authority.Id);
        return issued;
    }

    /// <summary>Says what is wrong with a public key for the CA, or returns <see langword="null"/> when it is accepted.</summary>
    internal static string? CheckKey(PublicKey key)
    {
        switch (key.Oid.Value)
        {
            case "1.2.840.10045.2.1":
                using (var ecdsa = key.GetECDsaPublicKey())
                {
                    var curve = ecdsa?.ExportParameters(false).Curve;
                    var oid = curve?.Oid?.Value;
                    return curve is { IsNamed: true } && oid is not null && AcceptedCurves.Contains(oid)
                        ? null
                        : $"ECDSA on the curve {oid ?? curve?.Oid?.FriendlyName ?? "(explicit parameters)"}; accepted are P-256, P-384 and P-521";
                }

            case "1.2.840.113549.1.1.1":
                using (var rsa = key.GetRSAPublicKey())
                {
                    if (rsa is null)
                    {
                        return "an RSA key that cannot be read";
                    }

                    var parameters = rsa.ExportParameters(false);
                    if (rsa.KeySize is < 2048 or > 8192)
                    {
                        return $"RSA of {rsa.KeySize} bits; accepted are 2048 to 8192 bits";
                    }

                    return parameters.Exponent is [0x01, 0x00, 0x01] ? null : "RSA with a public exponent other than 65537";
                }

            case var other:
                return $"the algorithm {other} ({key.Oid.FriendlyName}); accepted are ECDSA (P-256, P-384, P-521) and RSA (2048 to 8192 bits)";
        }
    }

    private static PublicKey ReadRequest(string requestPem)
    {
        if (requestPem.Length > MaxRequestLength)
        {
            throw new CertificateRequestRefusedException($"The certificate signing request is {requestPem.Length} characters long; at most {MaxRequestLength} are accepted.");
        }

        CertificateRequest request;
        try
        {
            // Loading checks the request's signature: proof that the caller holds the private key.
            request = CertificateRequest.LoadSigningRequestPem(requestPem, HashAlgorithmName.SHA256);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            throw new CertificateRequestRefusedException($"The certificate signing request is malformed or its signature does not verify: {ex.Message}", ex);
        }

        if (CheckKey(request.PublicKey) is { } problem)
        {
            throw new CertificateRequestRefusedException($"The certificate signing request's key is not accepted: {problem}.");
        }

        return request.PublicKey;
    }

    private static bool IsKnown(string path, List<SigningAuthority> authorities)
    {
        try
        {
            var first = TrustBundle.ReadPem(File.ReadAllText(path), path).FirstOrDefault();
            return first is not null && authorities.Any(a => a.Id == SigningAuthority.FingerprintOf(first));
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void RemoveUnlisted(string directory, CertificateAuthorityState state)
    {
        // An authority written by an operation that crashed before its state was committed never took effect; its key goes.
        foreach (var path in Directory.EnumerateDirectories(Path.Combine(directory, AuthoritiesDirectory)))
        {
            if (!state.Authorities.Any(a => a.Id == Path.GetFileName(path)))
            {
                Directory.Delete(path, recursive: true);
            }
        }
    }

    /// <summary>The CA's state at one moment: every authority, the active one, and the bundle of their roots.</summary>
    private sealed class Snapshot
    {
        private Snapshot(CertificateAuthorityState state, ImmutableArray<SigningAuthority> authorities, SigningAuthority active, TrustBundle bundle)
        {
            State = state;
            All = authorities;
            Active = active;
            Bundle = bundle;
        }

        public CertificateAuthorityState State { get; }

        public ImmutableArray<SigningAuthority> All { get; }

        public SigningAuthority Active { get; }

        public TrustBundle Bundle { get; }

        public static Snapshot Create(CertificateAuthorityState state, IEnumerable<SigningAuthority> authorities, string trustDomain)
        {
            var all = authorities.ToImmutableArray();
            var active = all.FirstOrDefault(a => a.Id == state.Active) ?? throw new InvalidDataException($"The active authority {state.Active} is not among the CA's authorities.");
            var roots = new[] { active }.Concat(all.Where(a => a != active)).Select(a => a.Root);
            return new Snapshot(state, all, active, TrustBundle.Create(trustDomain, roots));
        }

        public IReadOnlyList<AuthorityInfo> Describe() =>
            [.. State.Authorities.OrderByDescending(r => r.Id == State.Active).Select(r =>
            {
                var authority = All.First(a => a.Id == r.Id);
                return new AuthorityInfo(
                    r.Id,
                    authority.Certificate.Subject,
                    SigningAuthority.FingerprintOf(authority.Root),
                    X509SvidValidator.NotBefore(authority.Certificate),
                    authority.NotAfter,
                    r.Origin,
                    r.Id == State.Active,
                    r.DeactivatedAt);
            })];
    }
}
