using System.Diagnostics;
using Mesh.Balancing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.LoadBench;

/// <summary>
/// Balancing quality, after the experiment that made peak EWMA the default in Finagle and Linkerd: 11 backends with a
/// skewed latency, a client at a fixed rate (open loop: requests leave on schedule whatever is still in flight, and
/// latency counts from the scheduled time, so a slow answer cannot hide the requests queued behind it), and one
/// backend stalling at 2 s per request through the middle half of the run. Every call has a 1 s timeout.
/// </summary>
/// <remarks>
/// Retries, outlier detection and the circuit breaker are off, so each row shows the balancer alone (and, in the last
/// row, hedging on top); with them on, ejection would hide much of round robin's trouble after a few failures.
/// </remarks>
internal static class Balancing
{
    private const int Backends = 11;
    private const string Service = "backend";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan HedgeDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromMilliseconds(900);
    private static readonly Uri Uri = new($"http://{Service}/work");

    private static readonly Scenario[] Scenarios =
    [
        new("RoundRobin", LoadBalancerNames.RoundRobin, false),
        new("LeastRequest", LoadBalancerNames.LeastRequest, false),
        new("PeakEwma", LoadBalancerNames.PeakEwma, false),
        new("PeakEwma+hedging", LoadBalancerNames.PeakEwma, true),

        // An attempt ended by the call's own timeout counts as canceled and teaches the balancer nothing; one ended by
        // an attempt timeout counts as a failure with its latency. This row shows the difference that makes.
        new("PeakEwma+attempt-timeout", LoadBalancerNames.PeakEwma, false, AttemptTimeout),
    ];

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        Console.WriteLine(Report.Invariant($"Mesh.LoadBench balancing: {Backends} backends, latency log-normal (median {SkewedBackends.MedianMs} ms, sigma {SkewedBackends.Sigma}), {options.Rate} req/s open loop for {options.Duration:0.##} s per balancer after {options.Warmup:0.##} s of warm-up;"));
        Console.WriteLine(Report.Invariant($"backend b0 takes {Stall.TotalSeconds:0} s per request from {options.Duration / 4:0.##} s to {options.Duration * 3 / 4:0.##} s; timeout {Timeout.TotalSeconds:0} s; retries, outlier detection and breaker off; hedging after {HedgeDelay.TotalMilliseconds:0} ms, 2 attempts; attempt timeout {AttemptTimeout.TotalMilliseconds:0} ms in the last row."));
        Console.WriteLine($"Load average before the run: {Report.LoadAverage()} (1, 5, 15 min); other work on the machine moves the figures.");
        var rows = new List<BalancingRow>();
        foreach (var scenario in Scenarios)
        {
            var row = await RunOneAsync(scenario, options, cancellationToken).ConfigureAwait(false);
            Console.WriteLine(Report.Invariant($"  {row.Name}: {row.SuccessPercent:0.000}% success, p99.9 {row.P999Ms:0.0} ms"));
            rows.Add(row);
        }

        var goals = Goals(rows);
        Console.WriteLine();
        Console.WriteLine("Latency from each request's scheduled start, failures included at the time they failed; success = 2xx within the 1 s timeout.");
        Console.WriteLine("'extra' = requests the backends received beyond those issued (hedges); 'to b0 stalled' = requests b0 got while stalled.");
        Console.WriteLine();
        Console.Write(Report.Table(
            ["balancer", "requests", "success %", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "extra %", "to b0 stalled"],
            rows.Select(r => new[]
            {
                r.Name,
                r.Issued.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Report.Number(r.SuccessPercent, "0.000"),
                Report.Number(r.P50Ms, "0.0"),
                Report.Number(r.P99Ms, "0.0"),
                Report.Number(r.P999Ms, "0.0"),
                Report.Number(r.MaxMs, "0.0"),
                Report.Number(r.ExtraRequestsPercent, "0.00"),
                r.StalledBackendRequests.ToString(System.Globalization.CultureInfo.InvariantCulture),
            })));
        Console.WriteLine();
        Console.WriteLine("Goals:");
        foreach (var goal in goals)
        {
            Console.WriteLine(Report.Invariant($"  {(goal.Met ? "met    " : "NOT met")}  {goal.Name}: {goal.Value:0.###}"));
        }

        Console.WriteLine($"Load average after the run: {Report.LoadAverage()}");
        if (options.Out is { } path)
        {
            await Report.WriteAsync(path, new BalancingDocument(
                "balancing",
                Report.Machine(),
                new BalancingSettings(Backends, SkewedBackends.MedianMs, SkewedBackends.Sigma, options.Rate, options.Duration, options.Warmup, Stall.TotalSeconds, options.Duration / 4, options.Duration * 3 / 4, Timeout.TotalSeconds, HedgeDelay.TotalMilliseconds, 2, "retries, outlier detection and circuit breaker off"),
                rows,
                goals)).ConfigureAwait(false);
        }

        return 0;
    }

    private static async Task<BalancingRow> RunOneAsync(Scenario scenario, BenchOptions options, CancellationToken cancellationToken)
    {
        await using var backends = await SkewedBackends.StartAsync(Backends).ConfigureAwait(false);
        await using var provider = Client(scenario, backends.Addresses);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("balancing");

        await OpenLoopAsync(client, options.Rate, options.Warmup, cancellationToken).ConfigureAwait(false);
        backends.Reset();
        var start = Stopwatch.GetTimestamp();
        backends.StallBetween(start + (long)(options.Duration / 4 * Stopwatch.Frequency), start + (long)(options.Duration * 3 / 4 * Stopwatch.Frequency));
        var (latencies, succeeded) = await OpenLoopAsync(client, options.Rate, options.Duration, cancellationToken, start).ConfigureAwait(false);

        Array.Sort(latencies);
        var issued = latencies.Length;
        return new BalancingRow(
            scenario.Name,
            scenario.Balancer,
            scenario.Hedging,
            scenario.AttemptTimeout?.TotalMilliseconds,
            issued,
            succeeded,
            Math.Round(100.0 * succeeded / issued, 4),
            Math.Round(Report.PercentileMs(latencies, 0.50), 2),
            Math.Round(Report.PercentileMs(latencies, 0.99), 2),
            Math.Round(Report.PercentileMs(latencies, 0.999), 2),
            Math.Round(Report.PercentileMs(latencies, 1.0), 2),
            backends.Received,
            Math.Round(100.0 * (backends.Received - issued) / issued, 3),
            backends.ReceivedWhileStalled);
    }

    /// <summary>
    /// Sends <paramref name="rate"/> requests a second for <paramref name="seconds"/>, each on its own schedule whatever
    /// is still in flight, then waits for the last (each ends within the mesh's 1 s timeout).
    /// </summary>
    private static async Task<(long[] Latencies, int Succeeded)> OpenLoopAsync(HttpClient client, int rate, double seconds, CancellationToken cancellationToken, long start = 0)
    {
        var total = Math.Max(1, (int)(rate * seconds));
        var latencies = new long[total];
        var succeeded = new bool[total];
        var calls = new Task[total];
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(seconds) + (4 * Timeout));
        var token = bound.Token;
        var interval = (double)Stopwatch.Frequency / rate;
        start = start == 0 ? Stopwatch.GetTimestamp() : start;

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

    private static ServiceProvider Client(Scenario scenario, List<string> addresses)
    {
        var prefix = $"Mesh:Services:{Service}:";
        var config = new Dictionary<string, string?>
        {
            [prefix + "LoadBalancer"] = scenario.Balancer,
            [prefix + "Timeout"] = Timeout.ToString(),
            [prefix + "Retry:Enabled"] = "false",
            [prefix + "OutlierDetection:Enabled"] = "false",
            [prefix + "CircuitBreaker:Enabled"] = "false",
        };
        if (scenario.AttemptTimeout is { } attemptTimeout)
        {
            config[prefix + "AttemptTimeout"] = attemptTimeout.ToString();
        }

        if (scenario.Hedging)
        {
            config[prefix + "Hedging:Delay"] = HedgeDelay.ToString();
            config[prefix + "Hedging:MaxAttempts"] = "2";
        }

        for (var i = 0; i < addresses.Count; i++)
        {
            config[$"{prefix}Endpoints:{i}"] = addresses[i];
        }

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        services.AddMesh();
        services.AddHttpClient("balancing").AddMesh();
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }

    private static List<Goal> Goals(List<BalancingRow> rows)
    {
        var byName = rows.ToDictionary(r => r.Name);
        var roundRobin = byName["RoundRobin"];
        var goals = new List<Goal>();
        foreach (var name in new[] { "PeakEwma", "PeakEwma+hedging", "PeakEwma+attempt-timeout" })
        {
            var row = byName[name];
            goals.Add(new Goal($"{name} success >= 99.9% (percent)", row.SuccessPercent, row.SuccessPercent >= 99.9));
            goals.Add(new Goal($"{name} p99.9 under the 1 s timeout (ms)", row.P999Ms, row.P999Ms < Timeout.TotalMilliseconds));
        }

        goals.Add(new Goal("RoundRobin visibly degrades: success below 99.9% or p99.9 at the timeout (percent)", roundRobin.SuccessPercent, roundRobin.SuccessPercent < 99.9 || roundRobin.P999Ms >= Timeout.TotalMilliseconds));
        goals.Add(new Goal("hedging adds <= 5% extra requests (percent)", byName["PeakEwma+hedging"].ExtraRequestsPercent, byName["PeakEwma+hedging"].ExtraRequestsPercent <= 5));
        return goals;
    }

    private sealed record Scenario(string Name, string Balancer, bool Hedging, TimeSpan? AttemptTimeout = null);

    /// <summary>
    /// Eleven HTTP/1.1 backends in this process whose answer time is log-normal; b0 stalls between two instants. They
    /// count what they receive, so hedges show up as requests beyond those issued.
    /// </summary>
    private sealed class SkewedBackends : IAsyncDisposable
    {
        public const double MedianMs = 20;
        public const double Sigma = 0.6;

        private static readonly byte[] Ok = "ok"u8.ToArray();
        private readonly List<WebApplication> _apps = [];
        private long _received;
        private long _receivedWhileStalled;
        private long _stallFrom = long.MaxValue;
        private long _stallUntil = long.MaxValue;

        public List<string> Addresses { get; } = [];

        public long Received => Interlocked.Read(ref _received);

        public long ReceivedWhileStalled => Interlocked.Read(ref _receivedWhileStalled);

        public static async Task<SkewedBackends> StartAsync(int count)
        {
            var backends = new SkewedBackends();
            for (var i = 0; i < count; i++)
            {
                var index = i;
                var app = await Serve.StartHttpAsync(a => a.Run(context => backends.AnswerAsync(context, index))).ConfigureAwait(false);
                backends._apps.Add(app);
                backends.Addresses.Add(Serve.Address(app));
            }

            return backends;
        }

        public void Reset()
        {
            Interlocked.Exchange(ref _received, 0);
            Interlocked.Exchange(ref _receivedWhileStalled, 0);
        }

        public void StallBetween(long from, long until)
        {
            Interlocked.Exchange(ref _stallUntil, until);
            Interlocked.Exchange(ref _stallFrom, from);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var app in _apps)
            {
                await app.StopAsync().ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }

        private async Task AnswerAsync(HttpContext context, int index)
        {
            Interlocked.Increment(ref _received);
            var now = Stopwatch.GetTimestamp();
            var stalled = index == 0 && now >= Interlocked.Read(ref _stallFrom) && now < Interlocked.Read(ref _stallUntil);
            if (stalled)
            {
                Interlocked.Increment(ref _receivedWhileStalled);
            }

            try
            {
                await Task.Delay(stalled ? Stall : SampleLatency(), context.RequestAborted).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The caller gave up (timeout, or a hedge answered first).
                return;
            }

            context.Response.ContentLength = Ok.Length;
            await context.Response.Body.WriteAsync(Ok, context.RequestAborted).ConfigureAwait(false);
        }

        /// <summary>Log-normal: median 20 ms, p99 about 80 ms, p99.9 about 130 ms.</summary>
        private static TimeSpan SampleLatency()
        {
            // Box-Muller; the benchmark's randomness needs no cryptographic strength.
            var u1 = 1.0 - Random.Shared.NextDouble();
            var u2 = Random.Shared.NextDouble();
            var z = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
            return TimeSpan.FromMilliseconds(MedianMs * Math.Exp(Sigma * z));
        }
    }
}

/// <summary>The JSON file of a balancing run.</summary>
internal sealed record BalancingDocument(string Mode, MachineInfo Machine, BalancingSettings Settings, List<BalancingRow> Balancers, List<Goal> Goals);

internal sealed record BalancingSettings(
    int Backends, double MedianLatencyMs, double LatencySigma, int RatePerSecond, double DurationSeconds, double WarmupSeconds,
    double StallSecondsPerRequest, double StallFromSeconds, double StallUntilSeconds, double TimeoutSeconds, double HedgeDelayMs,
    int HedgeMaxAttempts, string Resilience);

/// <summary>One balancer's run: latency in ms from the scheduled start, success in percent, extra requests in percent of those issued.</summary>
internal sealed record BalancingRow(
    string Name, string Balancer, bool Hedging, double? AttemptTimeoutMs, long Issued, long Succeeded, double SuccessPercent, double P50Ms, double P99Ms,
    double P999Ms, double MaxMs, long BackendRequests, double ExtraRequestsPercent, long StalledBackendRequests);
