using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Mesh.Sdk;

namespace Mesh.Cli;

/// <summary><c>get services</c>, <c>get instances [SERVICE]</c>, <c>get policies [SERVICE]</c>.</summary>
internal static class GetCommands
{
    public static void Add(RootCommand root, Runner run)
    {
        var get = new Command("get", "List services, instances or policies.");

        var services = new Command("services", "Every service meshd knows: its policy version, instances, whether they converged, its callers.");
        run.Action(services, (_, x, ct) => ServicesAsync(x, ct));

        var instances = new Command("instances", "Every registered instance with its lease, the policy versions it runs and who ejects it.");
        var instancesOf = new Argument<string?>("SERVICE") { Description = "Only the instances of this service.", Arity = ArgumentArity.ZeroOrOne };
        instances.Add(instancesOf);
        run.Action(instances, (p, x, ct) => InstancesAsync(x, p.GetValue(instancesOf), ct));

        var policies = new Command("policies", "Every service's current policy version and its top-level keys; with SERVICE, that policy's document.");
        var policyOf = new Argument<string?>("SERVICE") { Description = "Print this service's policy document.", Arity = ArgumentArity.ZeroOrOne };
        policies.Add(policyOf);
        run.Action(policies, (p, x, ct) => PoliciesAsync(x, p.GetValue(policyOf), ct));

        get.Add(services);
        get.Add(instances);
        get.Add(policies);
        root.Add(get);
    }

    private static async Task<int> ServicesAsync(Invocation x, CancellationToken ct)
    {
        var services = await x.Meshd.GetServicesAsync(ct).ConfigureAwait(false);
        if (!x.Table)
        {
            Output.Document(x.Out, x.Format, services);
            return Meshctl.Ok;
        }

        Output.Rows(x.Out, ["NAME", "POLICY", "INSTANCES", "REPORTING", "CONVERGED", "CALLERS"], services.Select(s => (IReadOnlyList<string>)
        [
            s.Name,
            s.PolicyVersion is { } v ? $"v{v}" : "-",
            s.Instances.Count.ToString(CultureInfo.InvariantCulture),
            s.Instances.Count(i => i.Report is not null).ToString(CultureInfo.InvariantCulture),
            s.Converged ? "yes" : "no",
            Output.List(s.Callers),
        ]));
        return Meshctl.Ok;
    }

    private static async Task<int> InstancesAsync(Invocation x, string? service, CancellationToken ct)
    {
        IReadOnlyList<ServiceStatus> services = service is null
            ? await x.Meshd.GetServicesAsync(ct).ConfigureAwait(false)
            : [await x.Meshd.GetServiceAsync(service, ct).ConfigureAwait(false)];
        var rows = services.SelectMany(s => s.Instances.Select(i => (Service: s.Name, Instance: i))).ToList();
        if (!x.Table)
        {
            var list = new JsonArray();
            foreach (var (name, instance) in rows)
            {
                var node = System.Text.Json.JsonSerializer.SerializeToNode(instance, Json.Options)!.AsObject();
                node.Insert(0, "service", name);
                list.Add(node);
            }

            Output.Document(x.Out, x.Format, list);
            return Meshctl.Ok;
        }

        var now = x.Time.GetUtcNow();
        Output.Rows(x.Out, ["SERVICE", "INSTANCE", "ADDRESS", "ZONE", "WEIGHT", "LEASE", "POLICIES", "CONVERGED", "EJECTED-BY"], rows.Select(r => (IReadOnlyList<string>)
        [
            r.Service,
            r.Instance.InstanceId,
            r.Instance.Address,
            r.Instance.Zone ?? "-",
            r.Instance.Weight.ToString(CultureInfo.InvariantCulture),
            "expires " + Output.Relative(r.Instance.LeaseExpiresAt, now),
            r.Instance.Report is { } report ? Output.List(report.Policies.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}@v{p.Value}")) : "(no report)",
            r.Instance.Report is null ? "unknown" : r.Instance.Report.Converged ? "yes" : "no",
            Output.List(r.Instance.EjectedBy),
        ]));
        return Meshctl.Ok;
    }

    private static async Task<int> PoliciesAsync(Invocation x, string? service, CancellationToken ct)
    {
        if (service is not null)
        {
            var policy = await x.Meshd.GetPolicyAsync(service, ct).ConfigureAwait(false);
            if (!x.Table)
            {
                Output.Document(x.Out, x.Format, policy);
                return Meshctl.Ok;
            }

            x.Out.WriteLine($"# {policy.Service} v{policy.Version}" + (policy.UpdatedAt is { } at ? $", updated {Output.Time(at)}" : string.Empty));
            foreach (var (path, value) in PolicyDiff.Flatten(policy.Policy))
            {
                x.Out.WriteLine($"{path}: {value}");
            }

            return Meshctl.Ok;
        }

        var policies = await x.Meshd.GetPoliciesAsync(ct).ConfigureAwait(false);
        if (!x.Table)
        {
            Output.Document(x.Out, x.Format, policies);
            return Meshctl.Ok;
        }

        Output.Rows(x.Out, ["SERVICE", "VERSION", "KEYS"], policies.Select(p => (IReadOnlyList<string>)
        [
            p.Service,
            $"v{p.Version}",
            p.Policy is { ValueKind: System.Text.Json.JsonValueKind.Object } doc ? Output.List(doc.EnumerateObject().Select(e => e.Name)) : "-",
        ]));
        return Meshctl.Ok;
    }
}

/// <summary>The serializer options of meshctl's JSON output (camel case, as meshd writes).</summary>
internal static class Json
{
    public static readonly System.Text.Json.JsonSerializerOptions Options = new(System.Text.Json.JsonSerializerDefaults.Web);
}
