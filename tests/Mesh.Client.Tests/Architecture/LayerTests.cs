using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ArchUnitNET.Domain;
using ArchUnitNET.Loader;

namespace Mesh.Client.Tests.Architecture;

/// <summary>
/// The folders of Mesh.Client and the only dependencies allowed between them: a directed acyclic graph with the schema
/// (every option type and the validator) at the bottom and the three layers of the request path — logical, then
/// concrete, then endpoint — each using only what lies below it. A new arrow is a design decision made here.
/// </summary>
public sealed partial class LayerTests
{
    /// <summary>
    /// The schema: the root options, <c>Configuration/</c> (binder, validator), and wherever its folder is every option
    /// type, its validator and its list of names, the failure classes of <c>Retry:On</c> and the SPIFFE ID grammar.
    /// </summary>
    private const string Schema = "Schema";

    private static readonly Dictionary<string, string[]> s_allowed = new(StringComparer.Ordinal)
    {
        [Schema] = [],
        ["Utilities"] = [],
        ["ControlPlane.Contract"] = [],
        ["Telemetry"] = [],
        ["Protocol"] = [Schema],
        ["Discovery"] = [Schema, "Utilities"],

        // Discovery sources that watch a registry, each in a folder of its own.
        ["Discovery.Dns"] = [Schema, "Discovery", "Telemetry", "Utilities"],
        ["Discovery.Etcd"] = [Schema, "Discovery", "Telemetry", "Utilities"],
        ["Discovery.Consul"] = [Schema, "Discovery", "Telemetry", "Utilities"],
        ["Discovery.Kubernetes"] = [Schema, "Discovery", "Telemetry", "Utilities"],
        ["Balancing"] = [Schema, "Discovery", "Utilities"],
        ["Outliers"] = [Schema, "Telemetry", "Utilities"],
        ["Resilience"] = [Schema, "Protocol", "Discovery", "Balancing"],
        ["RateLimiting"] = [Schema, "Telemetry"],
        ["CircuitBreaking"] = [Schema, "Resilience", "Telemetry"],
        ["Retry"] = [Schema, "Resilience", "Protocol", "Telemetry", "Utilities"],
        ["Hedging"] = [Schema, "Retry", "Resilience", "Telemetry"],

        // Route matching and the weighted pick: on the request and the routes' options only, never an endpoint.
        ["Routing"] = [Schema, "Utilities"],

        // The request path, lowest first.
        ["Endpoint"] = [Schema, "Discovery", "Balancing", "Outliers", "Resilience", "Protocol", "Telemetry"],
        ["Concrete"] = [Schema, "Endpoint", "Discovery", "Balancing", "Outliers", "Resilience", "Utilities"],
        ["Logical"] = [Schema, "Routing", "Concrete", "Endpoint", "Retry", "Hedging", "CircuitBreaking", "RateLimiting", "Resilience", "Protocol", "Telemetry", "Discovery", "Utilities"],

        ["ControlPlane"] = [Schema, "ControlPlane.Contract", "Discovery", "Identity", "Telemetry", "Utilities"],
        ["Identity"] = [Schema, "Utilities"],

        // Inbound policy: the pure evaluator that Mesh.AspNetCore enforces and meshd answers questions with.
        ["Authorization"] = [Schema],

        // The composition: the catalog builds each service's layers; the handler puts them in a client.
        ["Pipeline"] = [Schema, "Logical", "Routing", "Concrete", "Endpoint", "Outliers", "Balancing", "Discovery", "ControlPlane", "Identity", "Resilience", "Protocol", "Telemetry", "Utilities"],
        ["DependencyInjection"] = [Schema, "Pipeline", "ControlPlane", "Discovery", "Discovery.Dns", "Discovery.Etcd", "Discovery.Consul", "Discovery.Kubernetes", "Identity", "Telemetry", "Utilities"],
    };

    private static readonly Lazy<ArchUnitNET.Domain.Architecture> s_architecture = new(() => new ArchLoader().LoadAssemblies(typeof(MeshOptions).Assembly).Build());

    [Fact]
    public void The_allowed_dependencies_form_a_graph_without_cycles()
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        var path = new Stack<string>();

        void Visit(string part)
        {
            if (state.GetValueOrDefault(part) == 2)
            {
                return;
            }

            Assert.True(state.GetValueOrDefault(part) != 1, $"The allowed dependencies have a cycle: {string.Join(" -> ", path.Reverse().Append(part))}");
            state[part] = 1;
            path.Push(part);
            foreach (var target in s_allowed[part])
            {
                Assert.True(s_allowed.ContainsKey(target), $"'{part}' may use '{target}', which is not a declared folder.");
                Visit(target);
            }

            path.Pop();
            state[part] = 2;
        }

        foreach (var part in s_allowed.Keys)
        {
            Visit(part);
        }
    }

    [Fact]
    public void Every_folder_of_Mesh_Client_is_declared()
    {
        var undeclared = s_architecture.Value.Types
            .Where(t => t.Assembly.FullName == typeof(MeshOptions).Assembly.FullName)
            .Select(t => (Type: t.FullName, Part: PartOf(t)))
            .Where(t => !s_allowed.ContainsKey(t.Part))
            .GroupBy(t => t.Part)
            .Select(g => $"'{g.Key}' (for example {g.First().Type})")
            .ToList();

        Assert.True(undeclared.Count == 0, $"Folders without declared dependencies: {string.Join(", ", undeclared)}. Add them to the allowed graph, with the folders they may use.");
    }

    [Fact]
    public void Mesh_Client_uses_only_the_allowed_dependencies_between_its_folders()
    {
        var assembly = typeof(MeshOptions).Assembly.FullName;
        var violations = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var type in s_architecture.Value.Types.Where(t => t.Assembly.FullName == assembly))
        {
            var from = PartOf(type);
            if (!s_allowed.TryGetValue(from, out var allowed))
            {
                continue;
            }

            foreach (var target in Targets(type).Where(t => t.Assembly?.FullName == assembly))
            {
                var to = PartOf(target);
                if (to != from && !allowed.Contains(to))
                {
                    var key = $"{from} -> {to}";
                    (violations.TryGetValue(key, out var examples) ? examples : violations[key] = []).Add($"{Outermost(type)} uses {Outermost(target)}");
                }
            }
        }

        var report = new StringBuilder();
        foreach (var (edge, examples) in violations)
        {
            report.Append(CultureInfo.InvariantCulture, $"{edge}: {string.Join("; ", examples.Distinct().Take(5))}").AppendLine();
        }

        Assert.True(violations.Count == 0, "Dependencies between folders that the architecture does not allow:\n" + report);
    }

    [Fact]
    public void Lower_layers_of_the_request_path_know_nothing_of_upper_ones()
    {
        string[] path = ["Logical", "Concrete", "Endpoint"];
        for (var i = 0; i < path.Length; i++)
        {
            foreach (var upper in path[..i])
            {
                Assert.DoesNotContain(upper, Reachable(path[i]));
            }
        }
    }

    [Fact]
    public void Every_source_file_of_Mesh_Client_declares_the_namespace_of_its_folder()
    {
        var root = Path.Combine(ChildProcess.RepositoryRoot, "src", "Mesh.Client");
        var wrong = new List<string>();
        foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file);
            if (relative.StartsWith("obj", StringComparison.Ordinal) || relative.StartsWith("bin", StringComparison.Ordinal))
            {
                continue;
            }

            var folder = Path.GetDirectoryName(relative)!.Replace(Path.DirectorySeparatorChar, '.');
            var declared = NamespaceDeclaration().Match(File.ReadAllText(file)).Groups[1].Value;
            var expected = folder.Length == 0 ? "Mesh" : "Mesh." + folder;
            if (declared != expected && !(s_extensionNamespaces.TryGetValue(declared, out var home) && home == folder))
            {
                wrong.Add($"{relative}: namespace {declared}, expected {expected}");
            }
        }

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    private static readonly string[] s_schemaSuffixes = ["Options", "OptionsValidator", "Names"];

    // Extension methods live in the namespace of what they extend, in the folder of what they add.
    private static readonly Dictionary<string, string> s_extensionNamespaces = new(StringComparer.Ordinal)
    {
        ["Microsoft.Extensions.DependencyInjection"] = "DependencyInjection",
        ["OpenTelemetry.Metrics"] = "Telemetry",
        ["OpenTelemetry.Trace"] = "Telemetry",
    };

    private static HashSet<string> Reachable(string part)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var next = new Stack<string>(s_allowed[part]);
        while (next.TryPop(out var current))
        {
            if (seen.Add(current))
            {
                foreach (var target in s_allowed[current])
                {
                    next.Push(target);
                }
            }
        }

        return seen;
    }

    private static string PartOf(IType type)
    {
        var ns = type.Namespace.FullName;
        var name = Outermost(type);
        if (ns is "Mesh" or "Mesh.Configuration" || s_schemaSuffixes.Any(suffix => name.EndsWith(suffix, StringComparison.Ordinal)) || name is "RetryOn" or "SpiffeId")
        {
            return Schema;
        }

        if (s_extensionNamespaces.TryGetValue(ns, out var folder))
        {
            return folder;
        }

        return ns.StartsWith("Mesh.", StringComparison.Ordinal) ? ns["Mesh.".Length..] : ns;
    }

    // A nested or compiler-generated type (a closure, a state machine) counts as the type it sits in.
    private static string Outermost(IType type)
    {
        var name = type.FullName[(type.Namespace.FullName.Length + 1)..];
        var cut = name.IndexOfAny(['+', '<', '`']);
        return cut > 0 ? name[..cut] : name;
    }

    private static IEnumerable<IType> Targets(IType type)
    {
        foreach (var dependency in type.Dependencies)
        {
            yield return dependency.Target;
            foreach (var argument in dependency.TargetGenericArguments)
            {
                yield return argument.Type;
            }
        }
    }

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();
}
