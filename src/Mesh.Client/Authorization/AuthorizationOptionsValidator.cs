using Mesh.Configuration;
using Mesh.Identity;

namespace Mesh.Authorization;

/// <summary>
/// The rules of <see cref="AuthorizationOptions"/> and <see cref="MeshAuthorizationOptions"/>. Every failure names the
/// configuration path, the service and the value, such as <c>Mesh:Services:payments:Authorization:Rules:0:From:1: 'ord*' is …</c>.
/// </summary>
internal static class AuthorizationOptionsValidator
{
    public const int MaxRules = 128;
    public const int MaxFrom = 64;
    public const int MaxTo = 32;
    public const int MaxMethods = 16;
    public const int MaxPaths = 64;
    public const int MaxGrpc = 64;
    public const int MaxPathLength = 1024;
    public const int MaxSegments = 32;
    public const int MaxNameLength = 63;
    public const int MaxMethodLength = 32;
    public const int MaxGrpcLength = 512;
    public const int MaxRate = 1_000_000;

    /// <summary>The segment of a path pattern that stands for exactly one segment.</summary>
    public const string OneSegment = "*";

    /// <summary>The last segment of a path pattern that makes it a prefix by segments.</summary>
    public const string AnySegments = "**";

    /// <summary>Adds a failure for each rule <paramref name="options"/> (<c>Mesh:Authorization</c>) breaks.</summary>
    public static void Validate(MeshAuthorizationOptions options, string path, List<string> failures)
    {
        if (!AuthorizationDefaultNames.IsKnown(options.Default))
        {
            failures.Add($"{path}:Default: '{Shorten(options.Default)}' is not an authorization default (known: {string.Join(", ", AuthorizationDefaultNames.All)}).");
        }
    }

    /// <summary>Adds a failure for each rule <paramref name="options"/> (<c>Mesh:Services:{service}:Authorization</c>) breaks.</summary>
    public static void Validate(AuthorizationOptions options, string path, string service, List<string> failures)
    {
        var of = $"(service '{service}')";
        if (options.Default is { } fallback && !AuthorizationDefaultNames.IsKnown(fallback))
        {
            failures.Add($"{path}:Default: '{Shorten(fallback)}' is not an authorization default {of} (known: {string.Join(", ", AuthorizationDefaultNames.All)}).");
        }

        if (options.Rules.Count > MaxRules)
        {
            failures.Add($"{path}:Rules: {options.Rules.Count} rules {of}; at most {MaxRules}.");
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.Rules.Count && i < MaxRules; i++)
        {
            var rulePath = $"{path}:Rules:{i}";
            if (options.Rules[i] is not { } rule)
            {
                failures.Add($"{rulePath}: the rule has no settings {of}.");
                continue;
            }

            if (CheckName(rule.Name) is { } badName)
            {
                failures.Add($"{rulePath}:Name: '{Shorten(rule.Name)}' {badName} {of}.");
            }
            else if (!names.Add(rule.Name!))
            {
                failures.Add($"{rulePath}:Name: '{rule.Name}' names two rules {of}; names are unique, ignoring case.");
            }

            if (!AuthorizationActionNames.IsKnown(rule.Action))
            {
                failures.Add($"{rulePath}:Action: '{Shorten(rule.Action)}' is not an action {of} (known: {string.Join(", ", AuthorizationActionNames.All)}).");
            }

            if (rule.From.Count == 0)
            {
                failures.Add($"{rulePath}:From: the rule names no caller {of}; name services, SPIFFE IDs, '{AuthorizationPrincipalNames.AnyAuthenticated}' or '{AuthorizationPrincipalNames.Unauthenticated}'.");
            }

            CheckList(rule.From, MaxFrom, $"{rulePath}:From", of, CheckPrincipal, failures);
            if (rule.To.Count > MaxTo)
            {
                failures.Add($"{rulePath}:To: {rule.To.Count} entries {of}; at most {MaxTo}.");
            }

            for (var j = 0; j < rule.To.Count && j < MaxTo; j++)
            {
                var toPath = $"{rulePath}:To:{j}";
                if (rule.To[j] is not { } to)
                {
                    failures.Add($"{toPath}: the entry has no settings {of}.");
                    continue;
                }

                CheckList(to.Methods, MaxMethods, $"{toPath}:Methods", of, CheckMethod, failures);
                CheckList(to.Paths, MaxPaths, $"{toPath}:Paths", of, CheckPath, failures);
                CheckList(to.Grpc, MaxGrpc, $"{toPath}:Grpc", of, CheckGrpc, failures);
            }
        }

        CheckList(options.IdentityHeadersFrom, MaxFrom, $"{path}:IdentityHeadersFrom", of, CheckPrincipal, failures);
        if (options.RateLimitPerCaller is { } limit)
        {
            if (limit.PermitsPerSecond is < 1 or > MaxRate)
            {
                failures.Add($"{path}:RateLimitPerCaller:PermitsPerSecond: {limit.PermitsPerSecond} is out of range {of} (1 to {MaxRate}).");
            }

            if (limit.Burst is < 1 or > MaxRate)
            {
                failures.Add($"{path}:RateLimitPerCaller:Burst: {limit.Burst} is out of range {of} (1 to {MaxRate}).");
            }
        }
    }

    /// <summary>Why <paramref name="name"/> cannot name a rule; <see langword="null"/> when it can.</summary>
    internal static string? CheckName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "is empty: every rule needs a name";
        }

        if (name.Length > MaxNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return $"is not a rule name (1 to {MaxNameLength} letters, digits, '-', '_' or '.')";
        }

        return null;
    }

    /// <summary>Why <paramref name="principal"/> is not an entry of <c>From</c>; <see langword="null"/> when it is.</summary>
    internal static string? CheckPrincipal(string? principal)
    {
        if (string.IsNullOrEmpty(principal))
        {
            return "is empty";
        }

        if (principal is AuthorizationPrincipalNames.AnyAuthenticated or AuthorizationPrincipalNames.Unauthenticated)
        {
            return null;
        }

        if (principal.StartsWith("spiffe://", StringComparison.OrdinalIgnoreCase))
        {
            return SpiffeId.TryParse(principal, out _, out var problem) ? null : $"is not a SPIFFE ID: {problem}";
        }

        // Compared as exact strings: a '*' anywhere but alone, or any other pattern character, is refused, never read as a pattern.
        return MeshOptionsValidator.IsServiceName(principal) && principal.Length <= 255
            ? null
            : $"is not a service name, a SPIFFE ID, '{AuthorizationPrincipalNames.AnyAuthenticated}' or '{AuthorizationPrincipalNames.Unauthenticated}' (entries are exact strings, not patterns)";
    }

    /// <summary>Why <paramref name="method"/> is not an HTTP method; <see langword="null"/> when it is.</summary>
    internal static string? CheckMethod(string? method) =>
        !string.IsNullOrEmpty(method) && method.Length <= MaxMethodLength && method.All(char.IsAsciiLetter)
            ? null
            : $"is not an HTTP method (1 to {MaxMethodLength} letters, such as POST)";

    /// <summary>Why <paramref name="pattern"/> is not a path pattern; <see langword="null"/> when it is.</summary>
    internal static string? CheckPath(string? pattern)
    {
        if (string.IsNullOrEmpty(pattern) || pattern[0] != '/')
        {
            return "is not a path: it must start with '/'";
        }

        if (pattern.Length > MaxPathLength)
        {
            return $"is longer than {MaxPathLength} characters";
        }

        if (pattern.Length == 1)
        {
            return null;
        }

        var segments = pattern[1..].Split('/');
        if (segments.Length > MaxSegments)
        {
            return $"has more than {MaxSegments} segments";
        }

        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            if (segment.Length == 0)
            {
                return i == segments.Length - 1
                    ? "ends with '/': write '/path' (a trailing '/' is ignored when matching) or '/path/**' for a prefix"
                    : "has an empty segment ('//')";
            }

            if (segment is "." or "..")
            {
                return "has a '.' or '..' segment, which never reaches the application (Kestrel removes them)";
            }

            if (segment == AnySegments)
            {
                if (i != segments.Length - 1)
                {
                    return $"has '{AnySegments}' before its last segment; '{AnySegments}' may only end a path";
                }

                continue;
            }

            if (segment == OneSegment)
            {
                continue;
            }

            foreach (var c in segment)
            {
                // Percent-encoding, '\', '?', '#' and controls: the path matched is already decoded, so a pattern holding them is a mistake.
                if (c is '*' or '%' or '\\' or '?' or '#' || char.IsControl(c) || char.IsWhiteSpace(c))
                {
                    return $"has '{Printable(c)}' in a segment: a segment is literal text (decoded, without '%', '\\', '?', '#'), '{OneSegment}' or a final '{AnySegments}'";
                }
            }
        }

        return null;
    }

    /// <summary>Why <paramref name="method"/> is not <c>package.Service/Method</c> or <c>package.Service/*</c>; <see langword="null"/> when it is.</summary>
    internal static string? CheckGrpc(string? method)
    {
        const string form = "is not a gRPC method such as 'package.Service/Method' or 'package.Service/*'";
        if (string.IsNullOrEmpty(method) || method.Length > MaxGrpcLength)
        {
            return form;
        }

        var slash = method.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0)
        {
            return form;
        }

        var service = method[..slash];
        var name = method[(slash + 1)..];
        if (!service.Split('.').All(IsIdentifier) || (name != OneSegment && !IsIdentifier(name)))
        {
            return form;
        }

        return null;
    }

    private static bool IsIdentifier(string part) =>
        part.Length > 0 && (char.IsAsciiLetter(part[0]) || part[0] == '_') && part.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static void CheckList(IList<string> values, int max, string path, string of, Func<string?, string?> check, List<string> failures)
    {
        if (values.Count > max)
        {
            failures.Add($"{path}: {values.Count} entries {of}; at most {max}.");
            return;
        }

        for (var i = 0; i < values.Count; i++)
        {
            if (check(values[i]) is { } problem)
            {
                failures.Add($"{path}:{i}: '{Shorten(values[i])}' {problem} {of}.");
            }
        }
    }

    private static string Printable(char c) => char.IsControl(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : c.ToString();

    private static string Shorten(string? value)
    {
        if (value is null)
        {
            return "null";
        }

        var text = value.Length <= 120 ? value : string.Concat(value.AsSpan(0, 120), "…");
        return new string(text.Select(c => char.IsControl(c) ? '?' : c).ToArray());
    }
}
