using Mesh.Authorization;
using Mesh.Configuration;
using Mesh.Identity;

namespace Mesh.Client.Tests.Authorization;

/// <summary>
/// Thousands of random policies, each asked many random requests: the evaluator the server enforces decides as a small
/// reference evaluator written here, straight from the rules as the documentation states them, and names the same rule.
/// </summary>
public sealed class AuthorizationPropertyTests
{
    private const string TrustDomain = "mesh.local";

    private static readonly string?[] s_callers =
    [
        null, "spiffe://mesh.local/svc/orders", "spiffe://mesh.local/svc/gateway", "spiffe://mesh.local/svc/Orders",
        "spiffe://other.td/svc/orders", "spiffe://mesh.local/ns/prod/sa/orders", "spiffe://mesh.local/svc/payments",
    ];

    private static readonly string[] s_principals =
        ["orders", "gateway", "Orders", "payments", "*", "unauthenticated", "spiffe://mesh.local/svc/orders", "spiffe://other.td/svc/orders", "spiffe://mesh.local/ns/prod/sa/orders"];

    private static readonly string[] s_patternSegments = ["admin", "charges", "a", "b", "*", "pkg.Svc", "Get"];
    private static readonly string[] s_requestSegments = ["admin", "Admin", "ADMIN", "charges", "a", "b", "", "x", "pkg.Svc", "Get", "Put", "%2F", "a%2Fb", "\\"];
    private static readonly string[] s_patternMethods = ["GET", "POST", "delete"];
    private static readonly string[] s_requestMethods = ["GET", "POST", "get", "DELETE", "PUT", "post"];
    private static readonly string[] s_grpc = ["pkg.Svc/Get", "pkg.Svc/*", "other.Svc/Put"];

    [Fact]
    public void The_evaluator_decides_as_the_reference_evaluator_for_random_policies_and_requests()
    {
        var random = new Random(1414);
        var validator = new MeshOptionsValidator();
        var compared = 0;
        var decidedBy = new HashSet<string>(StringComparer.Ordinal);
        for (var p = 0; p < 4000; p++)
        {
            var options = new MeshOptions();
            options.Authorization.Default = Pick(random, AuthorizationDefaultNames.All);
            var service = RandomPolicy(random);
            options.Services["payments"] = new MeshServiceOptions();
            Copy(service, options.Services["payments"].Authorization);
            var validation = validator.Validate(null, options);
            Assert.True(validation.Succeeded, validation.FailureMessage);

            var policy = AuthorizationPolicy.Create(options.Services["payments"].Authorization, options.Authorization, TrustDomain);
            for (var r = 0; r < 60; r++)
            {
                var caller = Pick(random, s_callers);
                var method = Pick(random, s_requestMethods);
                var path = RandomPath(random);
                var expected = Reference(service, options.Authorization.Default, caller, method, path);
                var actual = policy.Evaluate(caller is null ? null : SpiffeId.Parse(caller), method, path);
                Assert.True(
                    expected == (actual.IsAllowed, actual.Rule),
                    $"policy {p}, {caller ?? "unauthenticated"} {method} {path}: expected {expected}, got ({actual.IsAllowed}, {actual.Rule})\n{Describe(service)}");
                decidedBy.Add(actual.Rule.StartsWith('(') ? actual.Rule : actual.IsAllowed ? "allow-rule" : "deny-rule");
                compared++;
            }
        }

        // The random space reaches every way a decision is made, so the comparison is not vacuous.
        Assert.Equal(240_000, compared);
        Assert.Superset(
            new HashSet<string>(StringComparer.Ordinal) { "allow-rule", "deny-rule", AuthorizationDecision.NoMatch, AuthorizationDecision.DefaultAllow, AuthorizationDecision.DefaultAuthenticated, AuthorizationDecision.DefaultDeny },
            decidedBy);
    }

    [Theory]
    [InlineData("/admin", "/admin", true)]
    [InlineData("/admin", "/ADMIN/", true)]
    [InlineData("/admin", "//admin", false)]
    [InlineData("/admin", "/admin//", false)]
    [InlineData("/admin/**", "/admin", true)]
    [InlineData("/admin/**", "/admin/x/y", true)]
    [InlineData("/admin/**", "/administrator", false)]
    [InlineData("/admin/**", "/admin%2Fx", false)]
    [InlineData("/users/*/orders", "/users/7/orders", true)]
    [InlineData("/users/*/orders", "/users/7/8/orders", false)]
    [InlineData("/", "/", true)]
    [InlineData("/", "//", false)]
    [InlineData("/**", "/anything/at/all", true)]
    public void Paths_match_by_segment_ignoring_case_and_one_trailing_slash(string pattern, string path, bool matches)
    {
        var service = new AuthorizationOptions();
        var rule = new AuthorizationRuleOptions { Name = "r", Action = AuthorizationActionNames.Allow, From = { AuthorizationPrincipalNames.Unauthenticated } };
        rule.To.Add(new AuthorizationTargetOptions { Paths = { pattern } });
        service.Rules.Add(rule);
        var policy = AuthorizationPolicy.Create(service, new MeshAuthorizationOptions(), TrustDomain);

        Assert.Equal(matches, policy.Evaluate(null, "GET", path).IsAllowed);
    }

    // The reference: the documented rules, with nothing shared with the evaluator but the options.
    private static (bool, string) Reference(AuthorizationOptions service, string meshDefault, string? caller, string method, string path)
    {
        bool Applies(AuthorizationRuleOptions rule) =>
            rule.From.Any(f => PrincipalMatches(f, caller)) && (rule.To.Count == 0 || rule.To.Any(t => TargetMatches(t, method, path)));

        var deny = service.Rules.FirstOrDefault(r => r.Action == "Deny" && Applies(r));
        if (deny is not null)
        {
            return (false, deny.Name!);
        }

        var allows = service.Rules.Where(r => r.Action == "Allow").ToList();
        if (allows.Count > 0)
        {
            var allow = allows.FirstOrDefault(Applies);
            return allow is null ? (false, "(no-match)") : (true, allow.Name!);
        }

        return (service.Default ?? meshDefault) switch
        {
            "allow" => (true, "(default:allow)"),
            "authenticated" => (caller is not null, "(default:authenticated)"),
            _ => (false, "(default:deny)"),
        };
    }

    private static bool PrincipalMatches(string entry, string? caller) => entry switch
    {
        "*" => caller is not null,
        "unauthenticated" => caller is null,
        _ when entry.StartsWith("spiffe://", StringComparison.Ordinal) => caller == entry,
        _ => caller == "spiffe://mesh.local/svc/" + entry,
    };

    private static bool TargetMatches(AuthorizationTargetOptions target, string method, string path)
    {
        if (target.Methods.Count > 0 && !target.Methods.Any(m => m.Equals(method, StringComparison.OrdinalIgnoreCase)))
        {
            return false;
        }

        var patterns = target.Paths.Concat(target.Grpc.Select(g => "/" + g)).ToList();
        return patterns.Count == 0 || patterns.Any(p => PathMatches(p, RoutingSegments(path)));
    }

    // As ASP.NET Core routing splits a path: the leading '/' dropped, then every '/' a boundary, a final empty segment dropped.
    private static List<string> RoutingSegments(string path)
    {
        var segments = path.Substring(1).Split('/').ToList();
        if (segments[^1].Length == 0)
        {
            segments.RemoveAt(segments.Count - 1);
        }

        return segments;
    }

    private static bool PathMatches(string pattern, List<string> segments)
    {
        var parts = pattern == "/" ? [] : pattern.Substring(1).Split('/').ToList();
        var prefix = parts.Count > 0 && parts[^1] == "**";
        if (prefix)
        {
            parts.RemoveAt(parts.Count - 1);
        }

        if (prefix ? segments.Count < parts.Count : segments.Count != parts.Count)
        {
            return false;
        }

        return parts.Select((part, i) => part == "*" || part.Equals(segments[i], StringComparison.OrdinalIgnoreCase)).All(x => x);
    }

    private static AuthorizationOptions RandomPolicy(Random random)
    {
        var service = new AuthorizationOptions { Default = random.Next(3) == 0 ? null : Pick(random, AuthorizationDefaultNames.All) };
        var count = random.Next(6);
        for (var i = 0; i < count; i++)
        {
            var rule = new AuthorizationRuleOptions { Name = $"rule-{i}", Action = random.Next(3) == 0 ? "Deny" : "Allow" };
            foreach (var principal in Several(random, s_principals, 1, 3))
            {
                rule.From.Add(principal);
            }

            var targets = random.Next(4);
            for (var t = 0; t < targets; t++)
            {
                var target = new AuthorizationTargetOptions();
                foreach (var method in Several(random, s_patternMethods, 0, 2))
                {
                    target.Methods.Add(method);
                }

                var paths = random.Next(3);
                for (var k = 0; k < paths; k++)
                {
                    target.Paths.Add(RandomPattern(random));
                }

                if (random.Next(4) == 0)
                {
                    target.Grpc.Add(Pick(random, s_grpc));
                }

                rule.To.Add(target);
            }

            service.Rules.Add(rule);
        }

        return service;
    }

    private static string RandomPattern(Random random)
    {
        var length = random.Next(4);
        var segments = Enumerable.Range(0, length).Select(_ => Pick(random, s_patternSegments)).ToList();
        if (random.Next(3) == 0)
        {
            segments.Add("**");
        }

        return "/" + string.Join('/', segments);
    }

    private static string RandomPath(Random random)
    {
        var length = random.Next(5);
        var path = "/" + string.Join('/', Enumerable.Range(0, length).Select(_ => Pick(random, s_requestSegments)));
        return random.Next(5) == 0 ? path + "/" : path;
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private static List<string> Several(Random random, string[] items, int min, int max) =>
        items.OrderBy(_ => random.Next()).Take(random.Next(min, max + 1)).ToList();

    private static void Copy(AuthorizationOptions from, AuthorizationOptions to)
    {
        to.Default = from.Default;
        foreach (var rule in from.Rules)
        {
            to.Rules.Add(rule);
        }
    }

    private static string Describe(AuthorizationOptions service) => string.Join(
        "\n",
        service.Rules.Select(r => $"{r.Name} {r.Action} from [{string.Join(", ", r.From)}] to [{string.Join("; ", r.To.Select(t => $"{string.Join(",", t.Methods)} {string.Join(",", t.Paths.Concat(t.Grpc))}"))}]"))
        + $"\ndefault {service.Default ?? "(mesh)"}";
}
