using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Meshd.Watch;
using Microsoft.Extensions.DependencyInjection;

namespace Meshd.Tests.Watch;

public sealed class ManyWatchersTests(ITestOutputHelper output)
{
    private const int Watchers = 500;

    [Fact]
    public async Task A_change_reaches_500_watchers()
    {
        await using var meshd = await TestMeshd.StartAsync();
        var state = meshd.Host.Services.GetRequiredService<MeshState>();
        var version = (long)(await meshd.SnapshotAsync())["version"]!;
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Watchers + 10 }) { BaseAddress = meshd.Host.Address, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", TestMeshd.WorkloadToken);

        var changedAt = 0L;
        async Task<(HttpStatusCode Status, long Version, TimeSpan Delivery)> WatchAsync()
        {
            var response = await client.GetAsync($"/v1/snapshot?since={version}&wait=30");
            var body = await response.Content.ReadFromJsonAsync<JsonObject>();
            var delivery = Stopwatch.GetElapsedTime(Volatile.Read(ref changedAt));
            return (response.StatusCode, (long)body!["version"]!, delivery);
        }

        var watches = Enumerable.Range(0, Watchers).Select(_ => Task.Run(WatchAsync)).ToArray();
        await Eventually.WaitAsync(() => state.Waiting == Watchers, $"{Watchers} watchers parked", TimeSpan.FromSeconds(30));

        Volatile.Write(ref changedAt, Stopwatch.GetTimestamp());
        var put = await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");
        put.EnsureSuccessStatusCode();
        var results = await Task.WhenAll(watches);

        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.All(results, r => Assert.True(r.Version > version));
        var sorted = results.Select(r => r.Delivery.TotalMilliseconds).Order().ToArray();
        double Percentile(double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
        output.WriteLine($"{Watchers} watchers on one meshd, one policy write: delivery p50 {Percentile(0.50):F1} ms, p99 {Percentile(0.99):F1} ms, max {sorted[^1]:F1} ms (write to answer read by the watcher, same machine, 2 cores)");
        Assert.True(Percentile(0.99) < 1000, $"p99 delivery {Percentile(0.99):F1} ms is over a second");
    }
}
