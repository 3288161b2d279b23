using Mesh.Balancing;

namespace Mesh.Client.Tests.Balancing;

/// <summary>With one of three backends 50 ms slower, the latency-aware balancers keep traffic off it; round robin cannot.</summary>
public sealed class LatencyAwareTests : IAsyncLifetime
{
    private const int Requests = 1000;
    private TestBackend[] _backends = [];

    public async Task InitializeAsync()
    {
        _backends = await TestBackend.StartManyAsync(3);

        // Warm up both sides (JIT, connections) outside the measured host, so first-request costs do not read as latency.
        using var warmup = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends));
        await Load.RunAsync(60, 3, _ => Load.GetOkAsync(warmup.Client, "http://inventory/warmup"));
        _backends[2].Delay = TimeSpan.FromMilliseconds(50);
    }

    public async Task DisposeAsync()
    {
        await _backends.DisposeAllAsync();
    }

    [Fact]
    public async Task PeakEwma_sends_the_slow_backend_under_ten_percent()
    {
        var share = await SlowShareAsync(LoadBalancerNames.PeakEwma);

        Assert.True(share < 0.10, $"PeakEwma sent {share:P1} to the slow backend.");
    }

    [Fact]
    public async Task LeastRequest_sends_the_slow_backend_under_a_quarter()
    {
        var share = await SlowShareAsync(LoadBalancerNames.LeastRequest);

        Assert.True(share < 0.25, $"LeastRequest sent {share:P1} to the slow backend.");
    }

    [Fact]
    public async Task RoundRobin_sends_the_slow_backend_a_third()
    {
        var share = await SlowShareAsync(LoadBalancerNames.RoundRobin);

        Assert.InRange(share, 0.33, 0.34);
    }

    private async Task<double> SlowShareAsync(string balancer)
    {
        var before = _backends[2].Requests;
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", balancer, _backends));
        var client = host.Client;

        var ok = await Load.RunAsync(Requests, 8, _ => Load.GetOkAsync(client, "http://inventory/items/1"));

        Assert.Equal(Requests, ok);
        return (_backends[2].Requests - before) / (double)Requests;
    }
}
