using System.CommandLine;
using System.Globalization;
using Mesh.Sdk;

namespace Mesh.Cli;

/// <summary>
/// <c>describe service X</c>: its policy and where it comes from, every instance with the versions it runs, the keys it
/// overrides locally and who ejects it, its callers, and the policy's recent history.
/// </summary>
internal static class DescribeCommand
{
    private const int RecentVersions = 5;

    public static void Add(RootCommand root, Runner run)
    {
        var describe = new Command("describe", "Show one object in full.");
        var service = new Command("service", "A service: its policy and its source, instances with versions, overridden keys and ejections, callers, recent history.");
        var name = new Argument<string>("NAME") { Description = "The service." };
        service.Add(name);
        run.Action(service, (p, x, ct) => DescribeAsync(x, p.GetValue(name)!, ct));
        describe.Add(service);
        root.Add(describe);
    }

    private static async Task<int> DescribeAsync(Invocation x, string name, CancellationToken ct)
    {
        var status = await x.Meshd.GetServiceAsync(name, ct).ConfigureAwait(false);
        PolicyRecord? policy = null;
        IReadOnlyList<PolicyRecord> history = [];
        if (status.PolicyVersion is not null)
        {
            policy = await x.Meshd.GetPolicyAsync(status.Name, ct).ConfigureAwait(false);
        }

        try
        {
            history = await x.Meshd.GetPolicyHistoryAsync(status.Name, ct).ConfigureAwait(false);
        }
        catch (MeshdNotFoundException)
        {
            // A service that never had a policy has no history.
        }

        var recent = history.Take(RecentVersions).ToList();
        if (!x.Table)
        {
            Output.Document(x.Out, x.Format, new { service = status, policy, history = recent });
            return Meshctl.Ok;
        }

        var now = x.Time.GetUtcNow();
        var w = x.Out;
        w.WriteLine($"Name:       {status.Name}");
        w.WriteLine(policy is null
            ? "Policy:     none in meshd: instances run their own configuration and the defaults"
            : $"Policy:     v{policy.Version} from meshd" + (policy.UpdatedAt is { } at ? $", updated {Output.Time(at)}" : string.Empty));
        w.WriteLine($"Converged:  {(status.Converged ? "yes" : "no")}");
        w.WriteLine($"Callers:    {Output.List(status.Callers)}");
        if (policy is not null)
        {
            w.WriteLine();
            w.WriteLine("Policy document:");
            foreach (var (path, value) in PolicyDiff.Flatten(policy.Policy))
            {
                w.WriteLine($"  {path}: {value}");
            }
        }

        w.WriteLine();
        w.WriteLine($"Instances ({status.Instances.Count}):");
        if (status.Instances.Count > 0)
        {
            Output.Rows(w, ["INSTANCE", "ADDRESS", "ZONE", "LEASE", "RUNS", "LAGGING", "EJECTED-BY", "CERTIFICATE"], status.Instances.Select(i => (IReadOnlyList<string>)
            [
                i.InstanceId,
                i.Address,
                i.Zone ?? "-",
                "expires " + Output.Relative(i.LeaseExpiresAt, now),
                i.Report is { } r ? Output.List(r.Policies.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}@v{p.Value}")) : "(no report)",
                i.Report is { } l ? Output.List(l.Lagging.Select(g => $"{g.Service}@v{g.Runs}<v{g.Current}")) : "-",
                Output.List(i.EjectedBy),
                i.Report?.CertificateExpiresAt is { } cert ? "expires " + Output.Relative(cert, now) : "-",
            ]), "  ");

            var overridden = status.Instances.Where(i => i.Report is { OverriddenKeys.Count: > 0 }).ToList();
            if (overridden.Count > 0)
            {
                w.WriteLine();
                w.WriteLine("Local overrides (the instance runs its own value, not meshd's):");
                foreach (var instance in overridden)
                {
                    foreach (var key in instance.Report!.OverriddenKeys)
                    {
                        w.WriteLine($"  {instance.InstanceId}: {key}");
                    }
                }
            }
        }

        if (recent.Count > 0)
        {
            w.WriteLine();
            w.WriteLine("Recent history:");
            var rows = new List<IReadOnlyList<string>>();
            for (var i = 0; i < recent.Count; i++)
            {
                var previous = i + 1 < history.Count ? history[i + 1].Policy : null;
                rows.Add([$"v{recent[i].Version}", recent[i].UpdatedAt is { } when ? Output.Time(when) : "-", Summary(previous, recent[i])]);
            }

            Output.Rows(w, ["VERSION", "UPDATED", "CHANGE"], rows, "  ");
        }

        return Meshctl.Ok;
    }

    /// <summary>What a version changed against the one before it, as a list of keys.</summary>
    public static string Summary(System.Text.Json.JsonElement? previous, PolicyRecord version)
    {
        if (version.Policy is null)
        {
            return "deleted";
        }

        var changes = PolicyDiff.Compare(previous, version.Policy);
        return changes.Count == 0 ? "no change" : string.Join(" ", changes.Select(c => c.Op + c.Path));
    }

    public static string Count(int n, string noun) => $"{n.ToString(CultureInfo.InvariantCulture)} {noun}{(n == 1 ? string.Empty : "s")}";
}
