using System.Diagnostics;
using System.Globalization;
using Mesh.Balancing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Demo.Scenes;

/// <summary>
/// Three backends, one 25 ms slower; the same meshed client runs each balancer in turn (switched by reloading
/// configuration, as an edited appsettings.json would) and a table shows how each spread the load and what latency the caller got.
/// </summary>
internal sealed class BalancingScene : IScene
{
    private const string Service = "inventory";
    private const int Concurrency = 8;

    public string Title => "Load balancing: three backends on loopback, b2 answers 25 ms slower";

    public async Task RunAsync(DemoOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        DemoBackend[] backends =
        [
            await DemoBackend.StartAsync("b0", TimeSpan.Zero),
            await DemoBackend.StartAsync("b1", TimeSpan.Zero),
            await DemoBackend.StartAsync("b2", TimeSpan.FromMilliseconds(25)),
        ];
        try
        {
            var configuration = new ConfigurationManager();
            configuration.AddInMemoryCollection(Config(LoadBalancerNames.RoundRobin, backends));
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(configuration);
            services.AddMesh();
            services.AddHttpClient("inventory", c => c.BaseAddress = new Uri("http://inventory")).AddMesh();
            await using var provider = services.BuildServiceProvider();
            var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("inventory");

            foreach (var b in backends)
            {
                output.WriteLine($"  {b.Name}  {b.Address}  delay {b.Delay.TotalMilliseconds} ms");
            }

            output.WriteLine();
            output.WriteLine($"  {"balancer",-13} {"requests",8}   {"b0",6} {"b1",6} {"b2 (slow)",10}   {"p50 ms",7} {"p99 ms",7}");
            var requests = options.Requests(2000);
            foreach (var balancer in LoadBalancerNames.All)
            {
                // One configuration change, applied to the next request: no restart, no new client.
                configuration["Mesh:Services:inventory:LoadBalancer"] = balancer;
                ((IConfigurationRoot)configuration).Reload();
                var result = await DriveAsync(client, balancer, requests, cancellationToken);
                var share = backends.Select(b => result.Counts.GetValueOrDefault(b.Name) / (double)requests).ToArray();
                output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"  {balancer,-13} {requests,8}   {share[0],6:P0} {share[1],6:P0} {share[2],10:P0}   {result.P50,7:F1} {result.P99,7:F1}"));
            }

            output.WriteLine();
            output.WriteLine("  RoundRobin and Random share evenly, slow backend included. LeastRequest and PeakEwma see b2 is slow");
            output.WriteLine("  and keep traffic off it; RingHash keeps each user (x-user header) on one backend whatever its speed.");
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }
        }
    }

    private static Dictionary<string, string?> Config(string balancer, DemoBackend[] backends)
    {
        var config = new Dictionary<string, string?>
        {
            [$"Mesh:Services:{Service}:LoadBalancer"] = balancer,
            [$"Mesh:Services:{Service}:RingHash:Header"] = "x-user",
        };
        for (var i = 0; i < backends.Length; i++)
        {
            config[$"Mesh:Services:{Service}:Endpoints:{i}"] = backends[i].Address.ToString();
        }

        return config;
    }

    private static async Task<Result> DriveAsync(HttpClient client, string balancer, int requests, CancellationToken cancellationToken)
    {
        var counts = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var latencies = new double[requests];
        var next = -1;
        var callers = Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/items/42");
                request.Headers.Add("x-user", $"user-{i % 50}");
                var started = Stopwatch.GetTimestamp();
                using var response = await client.SendAsync(request, cancellationToken);
                response.EnsureSuccessStatusCode();
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                counts.AddOrUpdate(response.Headers.GetValues("x-backend").Single(), 1, (_, n) => n + 1);
            }
        });
        await Task.WhenAll(callers);
        Array.Sort(latencies);
        return new Result(balancer, counts, Percentile(latencies, 0.50), Percentile(latencies, 0.99));
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    private sealed record Result(string Balancer, IReadOnlyDictionary<string, int> Counts, double P50, double P99);
}
