using System.CommandLine;
using System.Globalization;
using Mesh.Sdk;

namespace Mesh.Cli;

/// <summary>
/// <c>check</c>: meshd reachable, the token taken, the store healthy, every instance converged on the current policy
/// versions, leases renewing, certificates valid long enough. One line per check, ✔ or ✘ with a hint; exit 1 on any ✘.
/// </summary>
internal static class CheckCommand
{
    public static void Add(RootCommand root, Runner run)
    {
        var days = new Option<double>("--min-cert-days") { Description = "The fewest days every instance's certificate must still be valid.", DefaultValueFactory = _ => 7 };
        var check = new Command("check", "Check meshd and the fleet: reachable, token, store, every instance converged, leases, certificates. Exit 1 on any failure.") { days };
        run.Action(check, (p, x, ct) => CheckAsync(x, p.GetValue(days), ct));
        root.Add(check);
    }

    internal sealed record Line(string Check, bool Ok, string Message, string? Hint = null);

    private static async Task<int> CheckAsync(Invocation x, double minCertDays, CancellationToken ct)
    {
        if (!(minCertDays >= 0 && minCertDays <= 3650))
        {
            throw new UsageException("--min-cert-days is a number of days from 0 to 3650.");
        }

        var lines = new List<Line>();
        await RunAsync(x, minCertDays, lines, ct).ConfigureAwait(false);
        var ok = lines.All(l => l.Ok);
        if (!x.Table)
        {
            Output.Document(x.Out, x.Format, new { ok, checks = lines });
        }
        else
        {
            foreach (var line in lines)
            {
                x.Out.WriteLine($"{(line.Ok ? "✔" : "✘")} {line.Message}");
                if (!line.Ok && line.Hint is not null)
                {
                    x.Out.WriteLine($"    hint: {line.Hint}");
                }
            }

            var failed = lines.Count(l => !l.Ok);
            x.Out.WriteLine(ok ? "Status check results are ✔" : $"Status check results are ✘ ({DescribeCommand.Count(failed, "failure")})");
        }

        return ok ? Meshctl.Ok : Meshctl.Failed;
    }

    private static async Task RunAsync(Invocation x, double minCertDays, List<Line> lines, CancellationToken ct)
    {
        var address = x.Context.Address.GetLeftPart(UriPartial.Authority);
        MeshdHealth ready;
        try
        {
            ready = await x.Meshd.GetReadinessAsync(ct).ConfigureAwait(false);
            lines.Add(new Line("reachable", true, $"meshd reachable at {address}"));
        }
        catch (MeshdUnreachableException e)
        {
            lines.Add(new Line("reachable", false, $"meshd not reachable at {address}: {e.InnerException?.Message}", $"is meshd running there? Check --address, ${CliContext.AddressVariable} or the config file ({x.Context.AddressFrom})."));
            return;
        }

        IReadOnlyList<ServiceStatus> services;
        try
        {
            services = await x.Meshd.GetServicesAsync(ct).ConfigureAwait(false);
            lines.Add(new Line("token", true, "token accepted"));
        }
        catch (MeshdUnauthorizedException e)
        {
            lines.Add(new Line("token", false, $"token refused ({e.Status})", x.Context.Token is null
                ? $"no token given: set --token or ${CliContext.TokenVariable} (the admin token or a read-only one)."
                : "give the admin token or a read-only token (Meshd:ReaderToken); a service credential cannot list services."));
            return;
        }

        var failing = ready.Checks.Where(c => c.Value != "ok").ToList();
        string? version = null;
        try
        {
            version = $", snapshot v{(await x.Meshd.GetStatusAsync(ct).ConfigureAwait(false)).SnapshotVersion.ToString(CultureInfo.InvariantCulture)}";
        }
        catch (MeshdUnauthorizedException)
        {
            // /v1/status may be closed to this token; readiness alone still tells the store's health.
        }

        lines.Add(failing.Count == 0
            ? new Line("store", true, $"store healthy ({string.Join(", ", ready.Checks.Select(c => $"{c.Key} ok"))}{version})")
            : new Line("store", false, $"store not healthy: {string.Join("; ", failing.Select(c => $"{c.Key}: {c.Value}"))}", "see meshd's log; writes get 503 until the store takes them again."));

        var instances = services.SelectMany(s => s.Instances.Select(i => (Service: s.Name, Instance: i))).ToList();
        var stale = new List<Line>();
        foreach (var (service, instance) in instances)
        {
            var name = $"{service}/{instance.InstanceId}";
            if (instance.Report is null)
            {
                stale.Add(new Line("converged", false, $"{name} has not reported what it runs", "its renewals carry no report: it may run a Mesh without the fleet report, or it has not renewed since it registered."));
                continue;
            }

            foreach (var lag in instance.Report.Lagging)
            {
                stale.Add(new Line(
                    "converged",
                    false,
                    $"{name} runs policy {lag.Service} v{lag.Runs.ToString(CultureInfo.InvariantCulture)}, meshd holds v{lag.Current.ToString(CultureInfo.InvariantCulture)}",
                    $"the instance has not applied the current snapshot: is it watching meshd? It reported at {Output.Time(instance.Report.ReportedAt)} having applied snapshot v{instance.Report.SnapshotVersion.ToString(CultureInfo.InvariantCulture)}."));
            }
        }

        if (stale.Count == 0)
        {
            lines.Add(new Line("converged", true, $"every instance converged on the current policy versions ({DescribeCommand.Count(instances.Count, "instance")})"));
        }
        else
        {
            lines.AddRange(stale);
        }

        var now = x.Time.GetUtcNow();
        var lapsed = instances.Where(i => i.Instance.LeaseExpiresAt <= now).ToList();
        var late = instances.Where(i => i.Instance.LeaseExpiresAt > now && RenewingLate(i.Instance, now)).ToList();
        if (lapsed.Count == 0 && late.Count == 0)
        {
            lines.Add(new Line("leases", true, $"leases renewing ({DescribeCommand.Count(instances.Count, "instance")})"));
        }

        if (lapsed.Count > 0)
        {
            lines.Add(new Line("leases", false, $"leases lapsed: {string.Join(", ", lapsed.Select(l => $"{l.Service}/{l.Instance.InstanceId} {Output.Relative(l.Instance.LeaseExpiresAt, now)}"))}", "the instance stopped renewing: is it running and can it reach meshd?"));
        }

        if (late.Count > 0)
        {
            lines.Add(new Line(
                "leases",
                false,
                $"leases renewing late: {string.Join(", ", late.Select(l => $"{l.Service}/{l.Instance.InstanceId} renewed {Output.Relative(l.Instance.LeaseRenewedAt!.Value, now)}, lapses {Output.Relative(l.Instance.LeaseExpiresAt, now)}"))}",
                "more than half of the lease passed without a renewal (instances renew every third of it): is the instance overloaded, frozen, or failing to reach meshd?"));
        }

        var limit = now.AddDays(minCertDays);
        var certified = instances.Where(i => i.Instance.Report?.CertificateExpiresAt is not null).ToList();
        var expiring = certified.Where(i => i.Instance.Report!.CertificateExpiresAt!.Value < limit).ToList();
        var days = minCertDays.ToString("0.##", CultureInfo.InvariantCulture);
        lines.Add(expiring.Count == 0
            ? new Line("certificates", true, certified.Count == 0
                ? "certificates: no instance reports one (mesh identity off)"
                : $"certificates valid for at least {days} days ({DescribeCommand.Count(certified.Count, "instance")})")
            : new Line(
                "certificates",
                false,
                $"certificates expire within {days} days: {string.Join(", ", expiring.Select(e => $"{e.Service}/{e.Instance.InstanceId} {Output.Relative(e.Instance.Report!.CertificateExpiresAt!.Value, now)}"))}",
                "workloads renew at half their lifetime: one that did not cannot reach meshd, or meshd's signing certificate expires (rotate it)."));
    }

    // An instance renews every third of its lease; past half of it without a renewal, it has missed one.
    private static bool RenewingLate(InstanceStatus instance, DateTimeOffset now) =>
        instance.LeaseRenewedAt is { } renewed && now - renewed > (instance.LeaseExpiresAt - renewed) / 2;
}
