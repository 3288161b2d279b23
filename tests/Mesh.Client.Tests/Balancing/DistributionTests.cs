using Mesh.Balancing;
using Mesh.Utilities;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.Balancing;

/// <summary>How each balancer spreads requests over three real backends.</summary>
public sealed class DistributionTests : IAsyncLifetime
{
    private const int Requests = 3000;
    private TestBackend[] _backends = [];

    public async Task InitializeAsync() => _backends = await TestBackend.StartManyAsync(3);

    public async Task DisposeAsync()
    {
        await _backends.DisposeAllAsync();
    }

    [Fact]
    public async Task RoundRobin_spreads_requests_exactly_evenly()
    {
        var counts = await SendAsync(LoadBalancerNames.RoundRobin);

        Assert.All(counts, c => Assert.Equal(Requests / 3, c));
    }

    [Fact]
    public async Task Random_spreads_requests_within_ten_percent_of_even()
    {
        var counts = await SendAsync(LoadBalancerNames.Random);

        Assert.All(counts, c => Assert.InRange(c, Requests / 3 * 0.9, Requests / 3 * 1.1));
    }

    [Theory]
    [InlineData(LoadBalancerNames.RoundRobin)]
    [InlineData(LoadBalancerNames.Random)]
    [InlineData(LoadBalancerNames.LeastRequest)]
    [InlineData(LoadBalancerNames.PeakEwma)]
    public async Task Every_balancer_reaches_every_backend(string balancer)
    {
        var counts = await SendAsync(balancer, concurrency: 1);

        Assert.All(counts, c => Assert.True(c > 0, $"{balancer} never picked a backend: {string.Join(", ", counts)}"));
        Assert.Equal(Requests, counts.Sum());
    }

    [Theory]
    [InlineData(LoadBalancerNames.RoundRobin)]
    [InlineData(LoadBalancerNames.Random)]
    public async Task Weighted_balancers_honour_weights_within_ten_percent(string balancer)
    {
        int[] weights = [1, 2, 3];

        var counts = await SendAsync(balancer, weights: weights);

        for (var i = 0; i < weights.Length; i++)
        {
            var expected = Requests * weights[i] / 6.0;
            Assert.InRange(counts[i], expected * 0.9, expected * 1.1);
        }
    }

    [Fact]
    public async Task Weighted_round_robin_gives_each_cycle_exactly_the_weights()
    {
        int[] weights = [1, 2, 3];

        var counts = await SendAsync(LoadBalancerNames.RoundRobin, weights: weights);

        Assert.Equal([500L, 1000L, 1500L], counts);
    }

    [Fact]
    public async Task A_drained_endpoint_with_weight_zero_receives_nothing()
    {
        var counts = await SendAsync(LoadBalancerNames.PeakEwma, weights: [1, 0, 1]);

        Assert.Equal(0, counts[1]);
        Assert.Equal(Requests, counts[0] + counts[2]);
    }

    private async Task<long[]> SendAsync(string balancer, int[]? weights = null, int concurrency = 8)
    {
        var before = _backends.Select(b => b.Requests).ToArray();
        using var host = MeshTestHost.Create(
            MeshTestHost.ServiceConfig("inventory", balancer, _backends, weights),
            s => s.AddSingleton(MeshRandom.Seeded(20261125)));
        var client = host.Client;

        var ok = await Load.RunAsync(Requests, concurrency, _ => Load.GetOkAsync(client, "http://inventory/items/1"));

        Assert.Equal(Requests, ok);
        return _backends.Select((b, i) => b.Requests - before[i]).ToArray();
    }
}
