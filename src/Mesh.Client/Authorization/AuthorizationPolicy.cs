using Mesh.Identity;

namespace Mesh.Authorization;

/// <summary>
/// One service's authorization, compiled from validated options: the pure evaluator the server enforces and meshd answers
/// "would this be allowed" with. Immutable; evaluating allocates nothing.
/// </summary>
/// <remarks>
/// Any matching <c>Deny</c> rule denies; otherwise, with <c>Allow</c> rules, a matching one allows and none denies; without
/// them the default decides. Callers compare as exact, ordinal strings; methods and path segments ignore case, as ASP.NET
/// Core routing does. The path is split as routing splits it: the leading <c>/</c> dropped, one trailing <c>/</c> ignored,
/// every other <c>/</c> a boundary (so <c>//admin</c> is an empty segment, then <c>admin</c>).
/// </remarks>
internal sealed class AuthorizationPolicy
{
    private readonly Rule[] _deny;
    private readonly Rule[] _allow;
    private readonly AuthorizationDecisionDefault _default;
    private readonly Principals _headerSetters;

    private AuthorizationPolicy(Rule[] deny, Rule[] allow, AuthorizationDecisionDefault fallback, Principals headerSetters, CallerRateLimit? rateLimit)
    {
        _deny = deny;
        _allow = allow;
        _default = fallback;
        _headerSetters = headerSetters;
        RateLimit = rateLimit;
    }

    /// <summary>Gets a policy that lets every request in: no rules, default <c>allow</c>.</summary>
    public static AuthorizationPolicy AllowAll { get; } = new([], [], AuthorizationDecisionDefault.Allow, Principals.None, null);

    /// <summary>Gets a policy that lets nothing in, for when no valid policy was ever read.</summary>
    public static AuthorizationPolicy DenyAll { get; } = new([], [], AuthorizationDecisionDefault.Deny, Principals.None, null);

    /// <summary>Gets the per-caller rate limit; <see langword="null"/> when there is none.</summary>
    public CallerRateLimit? RateLimit { get; }

    /// <summary>Gets whether the policy has any rule.</summary>
    public bool HasRules => _deny.Length + _allow.Length > 0;

    /// <summary>
    /// Compiles a service's options, already validated, with the mesh-wide default; service names in <c>From</c> are callers
    /// of <paramref name="trustDomain"/>.
    /// </summary>
    public static AuthorizationPolicy Create(AuthorizationOptions? service, MeshAuthorizationOptions mesh, string trustDomain)
    {
        ArgumentNullException.ThrowIfNull(mesh);
        ArgumentNullException.ThrowIfNull(trustDomain);
        var fallback = ParseDefault(service?.Default ?? mesh.Default);
        if (service is null)
        {
            return new AuthorizationPolicy([], [], fallback, Principals.None, null);
        }

        var deny = new List<Rule>();
        var allow = new List<Rule>();
        foreach (var rule in service.Rules)
        {
            var compiled = new Rule(rule.Name!, Principals.Create(rule.From, trustDomain), rule.To.Select(Target.Create).ToArray());
            (string.Equals(rule.Action, AuthorizationActionNames.Deny, StringComparison.OrdinalIgnoreCase) ? deny : allow).Add(compiled);
        }

        var limit = service.RateLimitPerCaller is { } l ? new CallerRateLimit(l.PermitsPerSecond, l.Burst) : null;
        return new AuthorizationPolicy(deny.ToArray(), allow.ToArray(), fallback, Principals.Create(service.IdentityHeadersFrom, trustDomain), limit);
    }

    /// <summary>Decides one request of <paramref name="caller"/> (<see langword="null"/>: no verified identity).</summary>
    /// <param name="caller">The caller's verified SPIFFE ID, or <see langword="null"/>.</param>
    /// <param name="method">The request's method.</param>
    /// <param name="path">The request's path as routing matches it (<c>HttpContext.Request.Path</c>).</param>
    public AuthorizationDecision Evaluate(SpiffeId? caller, string method, string path)
    {
        var id = caller?.ToString();
        foreach (var rule in _deny)
        {
            if (rule.Matches(id, method, path))
            {
                return new AuthorizationDecision(false, rule.Name);
            }
        }

        if (_allow.Length > 0)
        {
            foreach (var rule in _allow)
            {
                if (rule.Matches(id, method, path))
                {
                    return new AuthorizationDecision(true, rule.Name);
                }
            }

            return new AuthorizationDecision(false, AuthorizationDecision.NoMatch);
        }

        return _default switch
        {
            AuthorizationDecisionDefault.Allow => new AuthorizationDecision(true, AuthorizationDecision.DefaultAllow),
            AuthorizationDecisionDefault.Authenticated => new AuthorizationDecision(id is not null, AuthorizationDecision.DefaultAuthenticated),
            _ => new AuthorizationDecision(false, AuthorizationDecision.DefaultDeny),
        };
    }

    /// <summary>Whether identity-bearing headers from <paramref name="caller"/> may reach the application.</summary>
    public bool MaySetIdentityHeaders(SpiffeId? caller) => _headerSetters.Contains(caller?.ToString());

    /// <summary>Splits a path into its segments as ASP.NET Core routing does; for tests and tools, never on the request path.</summary>
    internal static string[] Segments(string path)
    {
        var rest = path.Length > 0 && path[0] == '/' ? path[1..] : path;
        if (rest.Length == 0)
        {
            return [];
        }

        if (rest[^1] == '/')
        {
            rest = rest[..^1];
        }

        return rest.Split('/');
    }

    private static AuthorizationDecisionDefault ParseDefault(string name) =>
        string.Equals(name, AuthorizationDefaultNames.Deny, StringComparison.OrdinalIgnoreCase) ? AuthorizationDecisionDefault.Deny
        : string.Equals(name, AuthorizationDefaultNames.Authenticated, StringComparison.OrdinalIgnoreCase) ? AuthorizationDecisionDefault.Authenticated
        : AuthorizationDecisionDefault.Allow;

    private sealed class Rule(string name, Principals from, Target[] to)
    {
        public string Name { get; } = name;

        public bool Matches(string? caller, string method, string path)
        {
            if (!from.Contains(caller))
            {
                return false;
            }

            if (to.Length == 0)
            {
                return true;
            }

            foreach (var target in to)
            {
                if (target.Matches(method, path))
                {
                    return true;
                }
            }

            return false;
        }
    }

    private sealed class Principals(bool any, bool unauthenticated, HashSet<string> ids)
    {
        public static Principals None { get; } = new(false, false, []);

        public static Principals Create(IEnumerable<string> entries, string trustDomain)
        {
            var any = false;
            var unauthenticated = false;
            var ids = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in entries)
            {
                switch (entry)
                {
                    case AuthorizationPrincipalNames.AnyAuthenticated:
                        any = true;
                        break;
                    case AuthorizationPrincipalNames.Unauthenticated:
                        unauthenticated = true;
                        break;
                    default:
                        // A SPIFFE ID as written (the validator refused any not in canonical form); a name is a service of this trust domain.
                        ids.Add(entry.StartsWith("spiffe://", StringComparison.OrdinalIgnoreCase) ? entry : $"spiffe://{trustDomain}{SpiffeId.ServicePrefix}{entry}");
                        break;
                }
            }

            return new Principals(any, unauthenticated, ids);
        }

        public bool Contains(string? caller) => caller is null ? unauthenticated : any || ids.Contains(caller);
    }

    private sealed class Target(string[] methods, PathPattern[] paths)
    {
        public static Target Create(AuthorizationTargetOptions options)
        {
            var paths = options.Paths.Select(PathPattern.Parse)
                .Concat(options.Grpc.Select(g => PathPattern.Parse("/" + g)))
                .ToArray();
            return new Target(options.Methods.ToArray(), paths);
        }

        public bool Matches(string method, string path)
        {
            if (methods.Length > 0 && Array.FindIndex(methods, m => string.Equals(m, method, StringComparison.OrdinalIgnoreCase)) < 0)
            {
                return false;
            }

            if (paths.Length == 0)
            {
                return true;
            }

            foreach (var pattern in paths)
            {
                if (pattern.Matches(path))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>A path pattern: literal segments and one-segment wildcards (<see langword="null"/>), optionally a prefix.</summary>
    private sealed class PathPattern(string?[] segments, bool prefix)
    {
        public static PathPattern Parse(string pattern)
        {
            if (pattern == "/")
            {
                return new PathPattern([], prefix: false);
            }

            var parts = pattern[1..].Split('/');
            var prefix = parts[^1] == AuthorizationOptionsValidator.AnySegments;
            if (prefix)
            {
                parts = parts[..^1];
            }

            return new PathPattern(parts.Select(p => p == AuthorizationOptionsValidator.OneSegment ? null : p).ToArray(), prefix);
        }

        public bool Matches(string path)
        {
            var rest = path.AsSpan(path.Length > 0 && path[0] == '/' ? 1 : 0);
            var count = 0;
            if (rest.Length > 0)
            {
                if (rest[^1] == '/')
                {
                    rest = rest[..^1];
                }

                // Walk the segments as routing splits them; 'rest' empty now means one empty segment ("//").
                while (true)
                {
                    var slash = rest.IndexOf('/');
                    var segment = slash < 0 ? rest : rest[..slash];
                    if (count == segments.Length)
                    {
                        return prefix;
                    }

                    var expected = segments[count];
                    if (expected is not null && !segment.Equals(expected, StringComparison.OrdinalIgnoreCase))
                    {
                        return false;
                    }

                    count++;
                    if (slash < 0)
                    {
                        break;
                    }

                    rest = rest[(slash + 1)..];
                }
            }

            return count == segments.Length;
        }
    }
}

/// <summary>A per-caller rate limit as the policy holds it.</summary>
internal sealed record CallerRateLimit(int PermitsPerSecond, int Burst);

/// <summary>The default of a policy without <c>Allow</c> rules.</summary>
internal enum AuthorizationDecisionDefault
{
    Allow,
    Authenticated,
    Deny,
}
