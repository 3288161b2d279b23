using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.LoadBench;

/// <summary>
/// What a route's mirror costs the calls it copies: the same open-loop load (requests leave on schedule, latency from the
/// scheduled time) on one route with no mirror, with a healthy mirror copying every request, and with a mirror that
/// never answers copying every request (each copy held until its own timeout, so the in-flight bound turns most away).
/// Primary p50, p99 and success are compared with the no-mirror row of the same run; the copies' fates are read from
/// the mesh's own counter, <c>mesh.client.mirror.requests</c>.
/// </summary>
internal static class Mirroring
{
    private const string Service = "primary";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MirrorTimeout = TimeSpan.FromSeconds(1);
    private const int MaxConcurrent = 16;
    private static readonly Uri Uri = new($"http://{Service}/work");
    private static readonly byte[] Ok = "ok"u8.ToArray();

    private static readonly Scenario[] Scenarios =
    [
        new("no-mirror", null),
        new("healthy-mirror-100%", "healthy"),
        new("stalled-mirror-100%", "stalled"),
    ];

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        Console.WriteLine(Report.Invariant($"Mesh.LoadBench mirroring: 3 primary backends answering at once, {options.Rate} req/s open loop for {options.Duration:0.##} s per row after {options.Warmup:0.##} s of warm-up;"));
        Console.WriteLine(Report.Invariant($"timeout {Timeout.TotalSeconds:0} s; mirror Percent 100, Timeout {MirrorTimeout.TotalSeconds:0} s, MaxConcurrent {MaxConcurrent}; the stalled mirror never answers."));
        Console.WriteLine($"Load average before the run: {Report.LoadAverage()} (1, 5, 15 min); other work on the machine moves the figures.");

        var apps = new List<WebApplication>();
        var received = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        try
        {
            var primaries = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                apps.Add(await Serve.StartHttpAsync(a => a.Run(AnswerAsync)).ConfigureAwait(false));
                primaries.Add(Serve.Address(apps[^1]));
            }

            var healthy = await Serve.StartHttpAsync(a => a.Run(context => Count(received, "healthy", AnswerAsync(context)))).ConfigureAwait(false);
            var stalled = await Serve.StartHttpAsync(a => a.Run(context => Count(received, "stalled", StallAsync(context)))).ConfigureAwait(false);
            apps.Add(healthy);
            apps.Add(stalled);
            var mirrors = new Dictionary<string, string> { ["healthy"] = Serve.Address(healthy), ["stalled"] = Serve.Address(stalled) };

            var rows = new List<MirroringRow>();
            foreach (var scenario in Scenarios)
            {
                var row = await RunOneAsync(scenario, primaries, mirrors, received, rows.FirstOrDefault(), options, cancellationToken).ConfigureAwait(false);
                Console.WriteLine(Report.Invariant($"  {row.Name}: {row.SuccessPercent:0.000}% success, p50 {row.P50Ms:0.00} ms, p99 {row.P99Ms:0.00} ms"));
                rows.Add(row);
            }

            Console.WriteLine();
            Console.WriteLine("Latency of the primary calls from each request's scheduled start; success = 2xx within the 1 s timeout; ratios against no-mirror.");
            Console.WriteLine("Copies: as counted by mesh.client.mirror.requests (sent = answered, failed, skipped at the in-flight bound); received = what the mirror's server got.");
            Console.WriteLine();
            Console.Write(Report.Table(
                ["row", "requests", "success %", "p50 ms", "p99 ms", "p99.9 ms", "copies sent", "failed", "skipped", "received"],
                rows.Select(r => new[]
                {
                    r.Name,
                    r.Issued.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Report.Number(r.SuccessPercent, "0.000"),
                    Report.WithRatio(r.P50Ms, r.P50Ratio),
                    Report.WithRatio(r.P99Ms, r.P99Ratio),
                    Report.Number(r.P999Ms, "0.00"),
                    r.CopiesSent.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    r.CopiesFailed.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    r.CopiesSkipped.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    r.MirrorReceived.ToString(System.Globalization.CultureInfo.InvariantCulture),
                })));
            Console.WriteLine($"Load average after the run: {Report.LoadAverage()}");
            if (options.Out is { } path)
            {
                await Report.WriteAsync(path, new MirroringDocument(
                    "mirroring",
                    Report.Machine(),
                    new MirroringSettings(options.Rate, options.Duration, options.Warmup, Timeout.TotalSeconds, 100, MirrorTimeout.TotalSeconds, MaxConcurrent),
                    rows)).ConfigureAwait(false);
            }

            return 0;
        }
        finally
        {
            foreach (var app in apps)
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<MirroringRow> RunOneAsync(Scenario scenario, List<string> primaries, Dictionary<string, string> mirrors, ConcurrentDictionary<string, long> received, MirroringRow? baseline, BenchOptions options, CancellationToken cancellationToken)
    {
        using var copies = new CopyCounter();
        await using var provider = Client(primaries, scenario.Mirror is { } m ? mirrors[m] : null);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mirroring");

        await OpenLoopAsync(client, options.Rate, options.Warmup, cancellationToken).ConfigureAwait(false);
        copies.Reset();
        var before = scenario.Mirror is { } name ? received.GetValueOrDefault(name) : 0;
        var (latencies, succeeded) = await OpenLoopAsync(client, options.Rate, options.Duration, cancellationToken).ConfigureAwait(false);
        var mirrorReceived = (scenario.Mirror is { } after ? received.GetValueOrDefault(after) : 0) - before;

        Array.Sort(latencies);
        var issued = latencies.Length;
        var p50 = Math.Round(Report.PercentileMs(latencies, 0.50), 3);
        var p99 = Math.Round(Report.PercentileMs(latencies, 0.99), 3);
        return new MirroringRow(
            scenario.Name,
            issued,
            succeeded,
            Math.Round(100.0 * succeeded / issued, 4),
            p50,
            p99,
            Math.Round(Report.PercentileMs(latencies, 0.999), 3),
            baseline is null ? 1 : Report.Ratio(p50, baseline.P50Ms),
            baseline is null ? 1 : Report.Ratio(p99, baseline.P99Ms),
            copies.Of("sent"),
            copies.Of("failed"),
            copies.Of("skipped"),
            mirrorReceived);
    }

    /// <summary>Sends <paramref name="rate"/> requests a second for <paramref name="seconds"/> on schedule, then waits for the last.</summary>
    private static async Task<(long[] Latencies, int Succeeded)> OpenLoopAsync(HttpClient client, int rate, double seconds, CancellationToken cancellationToken)
    {
        var total = Math.Max(1, (int)(rate * seconds));
        var latencies = new long[total];
        var succeeded = new bool[total];
        var calls = new Task[total];
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(seconds) + (4 * Timeout));
        var token = bound.Token;
        var interval = (double)Stopwatch.Frequency / rate;
        var start = Stopwatch.GetTimestamp();

        async Task SendAsync(int i, long due)
        {
            try
            {
                using var response = await client.GetAsync(Uri, token).ConfigureAwait(false);
                succeeded[i] = response.IsSuccessStatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                succeeded[i] = false;
            }

            latencies[i] = Stopwatch.GetTimestamp() - due;
        }

        for (var i = 0; i < total; i++)
        {
            var due = start + (long)(i * interval);
            var wait = due - Stopwatch.GetTimestamp();
            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), cancellationToken).ConfigureAwait(false);
            }

            calls[i] = SendAsync(i, due);
        }

        await Task.WhenAll(calls).ConfigureAwait(false);
        return (latencies, succeeded.Count(s => s));
    }

    private static ServiceProvider Client(List<string> primaries, string? mirror)
    {
        var prefix = $"Mesh:Services:{Service}:";
        var config = new Dictionary<string, string?>
        {
            [prefix + "Timeout"] = Timeout.ToString(),
            [prefix + "Routes:0:Name"] = "work",
        };
        for (var i = 0; i < primaries.Count; i++)
        {
            config[$"{prefix}Endpoints:{i}"] = primaries[i];
        }

        if (mirror is not null)
        {
            config["Mesh:Services:shadow:Endpoints:0"] = mirror;
            config[prefix + "Routes:0:Mirror:Service"] = "shadow";
            config[prefix + "Routes:0:Mirror:Percent"] = "100";
            config[prefix + "Routes:0:Mirror:Timeout"] = MirrorTimeout.ToString();
            config[prefix + "Routes:0:Mirror:MaxConcurrent"] = MaxConcurrent.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        services.AddMesh();
        services.AddHttpClient("mirroring").AddMesh();
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }

    private static Task AnswerAsync(HttpContext context)
    {
        context.Response.ContentLength = Ok.Length;
        return context.Response.Body.WriteAsync(Ok, context.RequestAborted).AsTask();
    }

    private static async Task StallAsync(HttpContext context)
    {
        try
        {
            await Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The copy's own timeout ended it.
        }
    }

    private static Task Count(ConcurrentDictionary<string, long> received, string name, Task answer)
    {
        received.AddOrUpdate(name, 1, static (_, n) => n + 1);
        return answer;
    }

    private sealed record Scenario(string Name, string? Mirror);

    /// <summary>Sums <c>mesh.client.mirror.requests</c> by outcome, from every mesh meter in the process.</summary>
    private sealed class CopyCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, long> _byOutcome = new(StringComparer.Ordinal);

        public CopyCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "mesh.client.mirror.requests")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "mesh.mirror.outcome" && tag.Value is string outcome)
                    {
                        _byOutcome.AddOrUpdate(outcome, value, (_, n) => n + value);
                    }
                }
            });
            _listener.Start();
        }

        public long Of(string outcome) => _byOutcome.GetValueOrDefault(outcome);

        public void Reset() => _byOutcome.Clear();

        public void Dispose() => _listener.Dispose();
    }
}

/// <summary>The JSON file of a mirroring run.</summary>
internal sealed record MirroringDocument(string Mode, MachineInfo Machine, MirroringSettings Settings, List<MirroringRow> Rows);

internal sealed record MirroringSettings(int RatePerSecond, double DurationSeconds, double WarmupSeconds, double TimeoutSeconds, double MirrorPercent, double MirrorTimeoutSeconds, int MirrorMaxConcurrent);

/// <summary>One row: primary latency in ms from the scheduled start and its ratio to the no-mirror row, success in percent, the copies' fates.</summary>
internal sealed record MirroringRow(
    string Name, long Issued, long Succeeded, double SuccessPercent, double P50Ms, double P99Ms, double P999Ms, double P50Ratio, double P99Ratio,
    long CopiesSent, long CopiesFailed, long CopiesSkipped, long MirrorReceived);
