using System.Diagnostics.CodeAnalysis;

namespace Mesh.Identity;

/// <summary>
/// A SPIFFE ID, <c>spiffe://&lt;trust-domain&gt;/&lt;path&gt;</c>: the identity a workload proves with its certificate. Mesh services
/// are <c>spiffe://&lt;trust-domain&gt;/svc/&lt;service&gt;</c> (see <see cref="ForService"/>).
/// </summary>
/// <remarks>
/// Parsing follows the SPIFFE ID standard strictly: the scheme is <c>spiffe</c>; the trust domain is not empty, lower case,
/// made of <c>a-z 0-9 . - _</c> only, at most 255 bytes, with no user info and no port; the path is empty or made of
/// <c>/</c>-separated segments of <c>a-z A-Z 0-9 . - _</c>, with no empty, <c>.</c> or <c>..</c> segment and no trailing
/// <c>/</c>; there is no query, no fragment and no percent-encoding; the whole ID is at most 2048 bytes. Nothing is
/// normalized: an ID that is not already in this form is refused, never rewritten. Two IDs are equal when their text is
/// equal, compared ordinally (the path is case-sensitive). Instances are immutable.
/// </remarks>
public sealed class SpiffeId : IEquatable<SpiffeId>
{
    /// <summary>The longest SPIFFE ID accepted, in bytes (every accepted character is one byte).</summary>
    internal const int MaxLength = 2048;

    /// <summary>The longest trust domain accepted, in bytes: the longest host of RFC 3986.</summary>
    internal const int MaxTrustDomainLength = 255;

    /// <summary>The first path segment of every mesh service identity.</summary>
    internal const string ServicePrefix = "/svc/";

    private const string SchemePrefix = "spiffe://";

    private readonly string _value;

    private SpiffeId(string value, int pathStart)
    {
        _value = value;
        TrustDomain = value[SchemePrefix.Length..pathStart];
        Path = value[pathStart..];
    }

    /// <summary>Gets the trust domain, such as <c>mesh.local</c>.</summary>
    public string TrustDomain { get; }

    /// <summary>Gets the path, such as <c>/svc/payments</c>; empty for the ID of the trust domain itself.</summary>
    public string Path { get; }

    /// <summary>Gets the service name when the ID has the form <c>spiffe://&lt;trust-domain&gt;/svc/&lt;service&gt;</c>; otherwise <see langword="null"/>.</summary>
    internal string? ServiceName =>
        Path.StartsWith(ServicePrefix, StringComparison.Ordinal) && Path.IndexOf('/', ServicePrefix.Length) < 0 ? Path[ServicePrefix.Length..] : null;

    /// <summary>Parses a SPIFFE ID.</summary>
    /// <param name="value">The text of the ID, such as <c>spiffe://mesh.local/svc/payments</c>.</param>
    /// <returns>The ID.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    /// <exception cref="FormatException"><paramref name="value"/> is not a valid SPIFFE ID; the message says why.</exception>
    public static SpiffeId Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return TryParse(value, out var id, out var problem) ? id : throw new FormatException($"'{Shorten(value)}' is not a valid SPIFFE ID: {problem}.");
    }

    /// <summary>Parses a SPIFFE ID, or returns <see langword="false"/> when <paramref name="value"/> is not one.</summary>
    /// <param name="value">The text of the ID.</param>
    /// <param name="id">The ID, when the text is valid.</param>
    /// <returns>Whether the text is a valid SPIFFE ID.</returns>
    public static bool TryParse([NotNullWhen(true)] string? value, [NotNullWhen(true)] out SpiffeId? id) => TryParse(value, out id, out _);

    /// <summary>Parses a SPIFFE ID, or says why <paramref name="value"/> is not one.</summary>
    /// <param name="value">The text of the ID.</param>
    /// <param name="id">The ID, when the text is valid.</param>
    /// <param name="problem">Why the text is not a valid SPIFFE ID, such as <c>the path has a trailing '/'</c>; <see langword="null"/> when it is valid.</param>
    /// <returns>Whether the text is a valid SPIFFE ID.</returns>
    public static bool TryParse([NotNullWhen(true)] string? value, [NotNullWhen(true)] out SpiffeId? id, [NotNullWhen(false)] out string? problem)
    {
        id = null;
        problem = Check(value, out var pathStart);
        if (problem is not null)
        {
            return false;
        }

        id = new SpiffeId(value!, pathStart);
        return true;
    }

    /// <summary>Creates the identity of a mesh service, <c>spiffe://&lt;trust-domain&gt;/svc/&lt;service&gt;</c>.</summary>
    /// <param name="trustDomain">The trust domain, such as <c>mesh.local</c>.</param>
    /// <param name="serviceName">The service name, such as <c>payments</c>: one path segment.</param>
    /// <returns>The identity.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The trust domain or the service name breaks the rules of a SPIFFE ID; the message says why.</exception>
    public static SpiffeId ForService(string trustDomain, string serviceName)
    {
        ArgumentNullException.ThrowIfNull(trustDomain);
        ArgumentNullException.ThrowIfNull(serviceName);
        if (CheckTrustDomain(trustDomain) is { } domainProblem)
        {
            throw new ArgumentException($"'{Shorten(trustDomain)}' is not a valid trust domain: {domainProblem}.", nameof(trustDomain));
        }

        if (CheckSegment(serviceName) is { } segmentProblem)
        {
            throw new ArgumentException($"'{Shorten(serviceName)}' cannot be the service name of a SPIFFE ID: {segmentProblem}.", nameof(serviceName));
        }

        var text = SchemePrefix + trustDomain + ServicePrefix + serviceName;
        return TryParse(text, out var id, out var problem)
            ? id
            : throw new ArgumentException($"The SPIFFE ID of service '{Shorten(serviceName)}' would be invalid: {problem}.", nameof(serviceName));
    }

    /// <summary>Says what is wrong with a trust domain name, or returns <see langword="null"/> when it is valid.</summary>
    internal static string? CheckTrustDomain(string? trustDomain)
    {
        if (string.IsNullOrEmpty(trustDomain))
        {
            return "the trust domain is missing";
        }

        if (trustDomain.Length > MaxTrustDomainLength)
        {
            return $"the trust domain is longer than {MaxTrustDomainLength} bytes";
        }

        foreach (var c in trustDomain)
        {
            var problem = c switch
            {
                >= 'a' and <= 'z' or >= '0' and <= '9' or '.' or '-' or '_' => null,
                >= 'A' and <= 'Z' => "the trust domain must be lower case",
                ':' => "the trust domain must not have a port",
                '@' => "the trust domain must not have user info",
                '%' => "the trust domain must not hold percent-encoded characters",
                _ => $"the trust domain holds '{Printable(c)}'; only lower-case letters, digits, '.', '-' and '_' are allowed",
            };
            if (problem is not null)
            {
                return problem;
            }
        }

        return null;
    }

    /// <inheritdoc />
    public bool Equals(SpiffeId? other) => other is not null && string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as SpiffeId);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(_value);

    /// <summary>Returns the ID as text, such as <c>spiffe://mesh.local/svc/payments</c>.</summary>
    /// <returns>The ID as it was parsed.</returns>
    public override string ToString() => _value;

    /// <summary>Compares two IDs ordinally.</summary>
    /// <param name="left">The first ID.</param>
    /// <param name="right">The second ID.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(SpiffeId? left, SpiffeId? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two IDs ordinally.</summary>
    /// <param name="left">The first ID.</param>
    /// <param name="right">The second ID.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(SpiffeId? left, SpiffeId? right) => !(left == right);

    private static string? Check(string? value, out int pathStart)
    {
        pathStart = 0;
        if (string.IsNullOrEmpty(value))
        {
            return "the ID is empty";
        }

        if (value.Length > MaxLength)
        {
            return $"the ID is longer than {MaxLength} bytes";
        }

        if (!value.StartsWith(SchemePrefix, StringComparison.Ordinal))
        {
            return value.StartsWith(SchemePrefix, StringComparison.OrdinalIgnoreCase)
                ? "the scheme must be 'spiffe' in lower case"
                : "the scheme must be 'spiffe' followed by '://'";
        }

        // The authority ends at the first '/', '?' or '#'; '?' and '#' are refused wherever they appear.
        var authorityEnd = value.IndexOfAny(['/', '?', '#'], SchemePrefix.Length);
        pathStart = authorityEnd < 0 ? value.Length : authorityEnd;
        if (value.IndexOf('?', SchemePrefix.Length) >= 0)
        {
            return "a SPIFFE ID must not have a query";
        }

        if (value.IndexOf('#', SchemePrefix.Length) >= 0)
        {
            return "a SPIFFE ID must not have a fragment";
        }

        if (CheckTrustDomain(value[SchemePrefix.Length..pathStart]) is { } domainProblem)
        {
            return domainProblem;
        }

        return CheckPath(value.AsSpan(pathStart));
    }

    private static string? CheckPath(ReadOnlySpan<char> path)
    {
        if (path.IsEmpty)
        {
            return null;
        }

        if (path[^1] == '/')
        {
            return path.Length > 1 && path[^2] == '/' ? "the path has an empty segment" : "the path has a trailing '/'";
        }

        // path[0] is '/': each segment follows a '/'.
        var rest = path[1..];
        while (true)
        {
            var end = rest.IndexOf('/');
            var segment = end < 0 ? rest : rest[..end];
            if (CheckSegment(segment) is { } problem)
            {
                return problem;
            }

            if (end < 0)
            {
                return null;
            }

            rest = rest[(end + 1)..];
        }
    }

    private static string? CheckSegment(ReadOnlySpan<char> segment)
    {
        if (segment.IsEmpty)
        {
            return "the path has an empty segment";
        }

        if (segment is "." or "..")
        {
            return "the path has a '.' or '..' segment";
        }

        foreach (var c in segment)
        {
            var problem = c switch
            {
                >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '.' or '-' or '_' => null,
                '%' => "the path must not hold percent-encoded characters",
                _ => $"the path holds '{Printable(c)}'; only letters, digits, '.', '-' and '_' are allowed in a segment",
            };
            if (problem is not null)
            {
                return problem;
            }
        }

        return null;
    }

    private static string Printable(char c) => char.IsControl(c) || char.IsWhiteSpace(c) || c > '~' ? $"\\u{(int)c:x4}" : c.ToString();

    // A refused value is repeated in messages, so a huge one is cut.
    private static string Shorten(string value) => value.Length <= 100 ? value : string.Concat(value.AsSpan(0, 100), "…");
}
