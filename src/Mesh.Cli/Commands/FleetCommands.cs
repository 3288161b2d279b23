using System.CommandLine;
using System.Globalization;
using Mesh.Sdk;

namespace Mesh.Cli;

/// <summary>
/// The fleet's golden metrics: <c>stat</c> (per service; <c>--watch</c> refreshes), <c>top</c> (the busiest edges and
/// services, refreshed live) and <c>edges</c> (caller → service), from <c>/v1/fleet/stats</c> and <c>/v1/services</c>.
/// </summary>
internal static class FleetCommands
{
    public static void Add(RootCommand root, Runner run)
    {
        var watch = new Option<bool>("--watch", "-w") { Description = "Refresh every --interval until Ctrl+C or --count refreshes." };
        var count = new Option<int?>("--count") { Description = "Stop after this many refreshes." };
        var interval = new Option<double>("--interval") { Description = "Seconds between refreshes.", DefaultValueFactory = _ => 2 };

        var stat = new Command("stat", "Per service over the last minute: instances meshed (reporting), requests per second, success rate, p50/p95/p99.") { watch, count, interval };
        run.Action(stat, (p, x, ct) => LiveAsync(x, p.GetValue(watch) ? p.GetValue(count) : 1, p.GetValue(interval), StatAsync, ct));

        var top = new Command("top", "The busiest caller → service edges and services, refreshed live until Ctrl+C or --count refreshes.") { count, interval };
        run.Action(top, (p, x, ct) => LiveAsync(x, p.GetValue(count), p.GetValue(interval), TopAsync, ct));

        var edges = new Command("edges", "Every caller → service edge over the last minute, with whose reports it comes from (client or server).");
        run.Action(edges, (_, x, ct) => EdgesAsync(x, ct));

        root.Add(stat);
        root.Add(top);
        root.Add(edges);
    }

    private static async Task<int> LiveAsync(Invocation x, int? count, double interval, Func<Invocation, bool, CancellationToken, Task> frame, CancellationToken ct)
    {
        if (count is <= 0)
        {
            throw new UsageException("--count is 1 or more.");
        }

        if (!(interval >= 0.05 && interval <= 3600))
        {
            throw new UsageException("--interval is a number of seconds from 0.05 to 3600.");
        }

        var live = count != 1;
        try
        {
            for (var i = 0; count is null || i < count; i++)
            {
                if (i > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds(interval), x.Time, ct).ConfigureAwait(false);
                    if (x.Interactive && x.Table)
                    {
                        // Each refresh replaces the last on a terminal; piped, the frames follow each other.
                        await x.Out.WriteAsync("\u001b[H\u001b[2J").ConfigureAwait(false);
                    }
                    else if (x.Table)
                    {
                        await x.Out.WriteLineAsync().ConfigureAwait(false);
                    }
                }

                await frame(x, live, ct).ConfigureAwait(false);
                await x.Out.FlushAsync(ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Ctrl+C ends a live view: that is how it is meant to stop.
        }

        return Meshctl.Ok;
    }

    internal sealed record ServiceRow(string Service, int Instances, int Meshed, long Requests, double RequestsPerSecond, double SuccessRate, double P50Ms, double P95Ms, double P99Ms);

    internal static async Task<IReadOnlyList<ServiceRow>> RowsAsync(MeshdClient meshd, CancellationToken ct)
    {
        var services = meshd.GetServicesAsync(ct);
        var stats = meshd.GetFleetStatsAsync(ct);
        var byName = (await stats.ConfigureAwait(false)).Services.ToDictionary(s => s.Service, StringComparer.Ordinal);
        return [.. (await services.ConfigureAwait(false)).Select(s => byName.TryGetValue(s.Name, out var m)
            ? new ServiceRow(s.Name, s.Instances.Count, s.Instances.Count(i => i.Report is not null), m.Requests, m.RequestsPerSecond, m.SuccessRate, m.P50Ms, m.P95Ms, m.P99Ms)
            : new ServiceRow(s.Name, s.Instances.Count, s.Instances.Count(i => i.Report is not null), 0, 0, 1, 0, 0, 0))];
    }

    private static async Task StatAsync(Invocation x, bool live, CancellationToken ct)
    {
        var rows = await RowsAsync(x.Meshd, ct).ConfigureAwait(false);
        if (!x.Table)
        {
            Output.Document(x.Out, x.Format, rows, compact: live);
            return;
        }

        Output.Rows(x.Out, ["NAME", "MESHED", "RPS", "SUCCESS", "P50", "P95", "P99"], rows.Select(ServiceCells));
    }

    private static async Task TopAsync(Invocation x, bool live, CancellationToken ct)
    {
        var stats = await x.Meshd.GetFleetStatsAsync(ct).ConfigureAwait(false);
        var edges = stats.Edges.OrderByDescending(e => e.RequestsPerSecond).ThenBy(e => e.Caller, StringComparer.Ordinal).ThenBy(e => e.Service, StringComparer.Ordinal).ToList();
        var services = stats.Services.OrderByDescending(s => s.RequestsPerSecond).ThenBy(s => s.Service, StringComparer.Ordinal).ToList();
        if (!x.Table)
        {
            Output.Document(x.Out, x.Format, new { at = stats.At, edges, services }, compact: live);
            return;
        }

        x.Out.WriteLine($"meshd {x.Context.Address.GetLeftPart(UriPartial.Authority)} at {Output.Time(stats.At)}, the last minute:");
        Output.Rows(x.Out, ["CALLER", "SERVICE", "SOURCE", "RPS", "SUCCESS", "P50", "P95", "P99"], edges.Select(EdgeCells));
        x.Out.WriteLine();
        Output.Rows(x.Out, ["SERVICE", "INSTANCES", "RPS", "SUCCESS", "P50", "P95", "P99"], services.Select(s => (IReadOnlyList<string>)
        [
            s.Service, s.Instances.ToString(CultureInfo.InvariantCulture), Output.Number(s.RequestsPerSecond), Output.Percent(s.SuccessRate), Output.Ms(s.P50Ms), Output.Ms(s.P95Ms), Output.Ms(s.P99Ms),
        ]));
    }

    private static async Task<int> EdgesAsync(Invocation x, CancellationToken ct)
    {
        var stats = await x.Meshd.GetFleetStatsAsync(ct).ConfigureAwait(false);
        if (!x.Table)
        {
            Output.Document(x.Out, x.Format, stats.Edges);
            return Meshctl.Ok;
        }

        Output.Rows(x.Out, ["CALLER", "SERVICE", "SOURCE", "RPS", "SUCCESS", "P50", "P95", "P99"], stats.Edges.Select(EdgeCells));
        return Meshctl.Ok;
    }

    private static IReadOnlyList<string> ServiceCells(ServiceRow r) =>
    [
        r.Service,
        $"{r.Meshed.ToString(CultureInfo.InvariantCulture)}/{r.Instances.ToString(CultureInfo.InvariantCulture)}",
        Output.Number(r.RequestsPerSecond),
        r.Requests == 0 ? "-" : Output.Percent(r.SuccessRate),
        r.Requests == 0 ? "-" : Output.Ms(r.P50Ms),
        r.Requests == 0 ? "-" : Output.Ms(r.P95Ms),
        r.Requests == 0 ? "-" : Output.Ms(r.P99Ms),
    ];

    private static IReadOnlyList<string> EdgeCells(EdgeMetrics e) =>
    [
        e.Caller, e.Service, e.Source, Output.Number(e.RequestsPerSecond), Output.Percent(e.SuccessRate), Output.Ms(e.P50Ms), Output.Ms(e.P95Ms), Output.Ms(e.P99Ms),
    ];
}
