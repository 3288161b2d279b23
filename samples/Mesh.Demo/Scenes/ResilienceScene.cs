using System.Diagnostics;
using System.Globalization;
using Mesh.CircuitBreaking;
using Mesh.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Demo.Scenes;

/// <summary>
/// Failures the caller should not see: errors retried within a budget, a dead backend ejected, a failing service
/// stopped by its breaker until a probe finds it healthy, a rate limit, and a stalled backend overtaken by hedging.
/// </summary>
internal sealed class ResilienceScene : IScene
{
    private const int Concurrency = 8;

    public string Title => "Resilience: retries within a budget, ejection, circuit breaking, rate limiting, hedging";

    public async Task RunAsync(DemoOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var backends = new List<DemoBackend>();
        for (var i = 0; i < 3; i++)
        {
            backends.Add(await DemoBackend.StartAsync($"p{i}", TimeSpan.Zero));
        }

        try
        {
            var settings = Config(backends);
            var configuration = new ConfigurationManager();
            configuration.AddInMemoryCollection(settings);
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(configuration);
            services.AddMesh();
            services.AddHttpClient("payments", c => c.BaseAddress = new Uri("http://payments")).AddMesh();
            await using var provider = services.BuildServiceProvider();
            var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("payments");
            var requests = options.Requests(1000);

            output.WriteLine($"  {"phase",-46} {"calls",6} {"ok",6} {"failed",7} {"fast-fail",9} {"attempts",9} {"p99 ms",7}");
            var row = new Row(client, backends, output, cancellationToken);

            backends[1].FailureRatio = 0.3;
            await row.RunAsync("p1 answers 503 to 30% of requests", requests);

            backends[1].FailureRatio = 0;
            await backends[2].DisposeAsync();
            await row.RunAsync("p2 stopped: refused, then ejected", requests);

            backends[0].FailureRatio = 1;
            backends[1].FailureRatio = 1;
            await row.RunAsync("every backend fails: budget, then breaker", requests);

            backends[0].FailureRatio = 0;
            backends[1].FailureRatio = 0;
            await Task.Delay(TimeSpan.FromSeconds(1.2), cancellationToken); // the demo's BreakDuration
            await row.RunAsync("recovered: a probe closes the breaker", requests);

            settings["Mesh:Services:payments:RateLimit:PermitsPerSecond"] = "100";
            settings["Mesh:Services:payments:RateLimit:Burst"] = "20";
            Apply(configuration, settings);
            await row.RunAsync("rate limit 100/s, burst 20: 300 at once", 300, concurrency: 64);
            settings.Remove("Mesh:Services:payments:RateLimit:PermitsPerSecond");
            settings.Remove("Mesh:Services:payments:RateLimit:Burst");
            Apply(configuration, settings);

            backends[0].Delay = TimeSpan.FromSeconds(1);
            await row.RunAsync("p0 stalls 1 s (no hedging)", requests / 4);
            settings["Mesh:Services:payments:Hedging:Delay"] = "00:00:00.030";
            settings["Mesh:Services:payments:Retry:Budget:Ratio"] = "1";
            Apply(configuration, settings);
            await row.RunAsync("p0 stalls 1 s, hedged after 30 ms (*)", requests / 4);

            output.WriteLine();
            output.WriteLine("  Retries turn p1's errors into successes; p2's refused connections move to another endpoint and p2 is");
            output.WriteLine("  ejected. When every backend fails, the retry budget caps the extra load and the breaker then fails");
            output.WriteLine("  calls fast (no attempt reaches a server) until a probe succeeds. Over the rate limit, calls fail at");
            output.WriteLine("  once without being sent. Hedging sends a second attempt when p0 stalls, so no caller waits for it.");
            output.WriteLine("  (*) Hedges are paid from the retry budget; with round robin every other call meets p0, so this row");
            output.WriteLine("      raises Retry:Budget:Ratio to 1. PeakEwma would mostly avoid p0 by itself.");
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }
        }
    }

    private static Dictionary<string, string?> Config(List<DemoBackend> backends)
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:payments:LoadBalancer"] = "RoundRobin",
            ["Mesh:Services:payments:Timeout"] = "00:00:05",
            ["Mesh:Services:payments:OutlierDetection:ConsecutiveFailures"] = "3",
            ["Mesh:Services:payments:CircuitBreaker:BreakDuration"] = "00:00:01",
            ["Mesh:Services:payments:CircuitBreaker:SamplingDuration"] = "00:00:00.500",
        };
        for (var i = 0; i < backends.Count; i++)
        {
            config[$"Mesh:Services:payments:Endpoints:{i}"] = backends[i].Address.ToString();
        }

        return config;
    }

    private static void Apply(ConfigurationManager configuration, Dictionary<string, string?> settings)
    {
        // Replace the content whole, as a reloaded appsettings.json would; the manager raises the change.
        configuration.Sources.Clear();
        configuration.AddInMemoryCollection(settings);
    }

    private sealed class Row(HttpClient client, List<DemoBackend> backends, TextWriter output, CancellationToken cancellationToken)
    {
        public async Task RunAsync(string phase, int calls, int concurrency = Concurrency)
        {
            var attemptsBefore = backends.Sum(b => b.Requests);
            int ok = 0, failed = 0, fastFail = 0;
            var latencies = new double[calls];
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < calls)
                {
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        using var response = await client.GetAsync("/charges/7", cancellationToken);
                        Interlocked.Increment(ref response.IsSuccessStatusCode ? ref ok : ref failed);
                    }
                    catch (Exception ex) when (ex is MeshCircuitOpenException or MeshRateLimitedException)
                    {
                        Interlocked.Increment(ref fastFail);
                    }
                    catch (HttpRequestException)
                    {
                        Interlocked.Increment(ref failed);
                    }

                    latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                }
            }));

            Array.Sort(latencies);
            var p99 = latencies[Math.Min(calls - 1, (int)(calls * 0.99))];
            var attempts = backends.Sum(b => b.Requests) - attemptsBefore;
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"  {phase,-46} {calls,6} {ok,6} {failed,7} {fastFail,9} {attempts,9} {p99,7:F0}"));
        }
    }
}
