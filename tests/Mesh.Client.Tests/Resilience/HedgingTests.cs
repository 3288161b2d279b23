using System.Diagnostics;
using Mesh.Balancing;

namespace Mesh.Client.Tests.Resilience;

/// <summary>Hedged requests: a slow endpoint is overtaken by a second attempt elsewhere, and the loser is cancelled.</summary>
public sealed class HedgingTests : IAsyncLifetime
{
    private TestBackend[] _backends = [];

    public async Task InitializeAsync()
    {
        _backends = await TestBackend.StartManyAsync(3);
        _backends[0].Delay = TimeSpan.FromSeconds(5);
    }

    public async Task DisposeAsync()
    {
        await _backends.DisposeAllAsync();
    }

    [Fact]
    public async Task Two_hundred_hedged_GETs_are_answered_by_fast_backends_and_each_reached_two_endpoints_at_most()
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends);
        config["Mesh:Services:inventory:Hedging:Delay"] = "00:00:00.050";
        config["Mesh:Services:inventory:Hedging:MaxAttempts"] = "2";
        config["Mesh:Services:inventory:Retry:Budget:Ratio"] = "1";
        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        using var host = MeshTestHost.Create(config);
        var client = host.Client;
        var latencies = new double[200];

        var ok = await Load.RunAsync(200, 4, async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "http://inventory/items");
            request.Headers.Add(TestBackend.TagHeader, $"call-{i}");
            var started = Stopwatch.GetTimestamp();
            using var response = await client.SendAsync(request);
            latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            response.EnsureSuccessStatusCode();
            Assert.NotEqual(_backends[0].Name, response.Headers.GetValues("x-backend").Single());
        });

        Assert.Equal(200, ok);

        // Every call that met the slow backend was hedged once onto another; none reached more than two endpoints.
        var reached = _backends.SelectMany(b => b.Tags.Select(tag => (tag, b.Name))).GroupBy(x => x.tag).ToList();
        Assert.Equal(200, reached.Count);
        Assert.All(reached, g => Assert.InRange(g.Count(), 1, 2));
        Assert.All(reached.Where(g => g.Count() == 2), g => Assert.Equal(2, g.Select(x => x.Name).Distinct().Count()));
        Assert.True(host.Catalog.CountersOf("inventory").Hedges >= _backends[0].Requests);

        // The slow backend's attempts lost, and were cancelled.
        Assert.True(_backends[0].Requests > 0);
        await Eventually.WaitAsync(() => _backends[0].Aborted == _backends[0].Requests, "every losing attempt to be cancelled");

        Array.Sort(latencies);
        Assert.True(latencies[197] < 5000, $"p99 {latencies[197]:F0} ms waited for the slow backend");
    }

    [Fact]
    public async Task A_POST_is_not_hedged()
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends[..1]);
        config["Mesh:Services:inventory:Hedging:Delay"] = "00:00:00.020";
        config["Mesh:Services:inventory:Timeout"] = "00:00:02";
        using var host = MeshTestHost.Create(config);

        await Assert.ThrowsAsync<TaskCanceledException>(() => host.Client.PostAsync("http://inventory/orders", new StringContent("order")));

        await Eventually.WaitAsync(() => _backends[0].Aborted == 1, "the one attempt to be cancelled at the deadline");
        Assert.Equal(1, _backends[0].Requests);
        Assert.Equal(0, host.Catalog.CountersOf("inventory").Hedges);
    }
}
