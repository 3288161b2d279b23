using System.Diagnostics;
using Mesh.Balancing;
using Mesh.RateLimiting;

namespace Mesh.Client.Tests.Resilience;

/// <summary>The client-side token bucket: over the limit a request fails at once and is never sent, or waits in a bounded queue.</summary>
public sealed class RateLimitTests : IAsyncLifetime
{
    private TestBackend _backend = null!;

    public async Task InitializeAsync() => _backend = await TestBackend.StartAsync("limited");

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Fact]
    public async Task A_burst_of_500_sends_at_most_burst_plus_the_rate_and_the_rest_fail_fast()
    {
        using var host = Host(queueLimit: 0);
        var client = host.Client;
        var rejected = 0;
        var clock = Stopwatch.StartNew();

        await Load.RunAsync(500, 50, async _ =>
        {
            try
            {
                using var response = await client.GetAsync("http://inventory/items");
            }
            catch (MeshRateLimitedException ex)
            {
                Assert.Equal("inventory", ex.ServiceName);
                Interlocked.Increment(ref rejected);
            }
        });
        var seconds = clock.Elapsed.TotalSeconds;

        // 50 at once (the burst), then 50 per second, refilled in steps of 20 ms.
        Assert.True(_backend.Requests <= 50 + (50 * seconds) + 1, $"{_backend.Requests} sent in {seconds:F2} s");
        Assert.Equal(500, _backend.Requests + rejected);
        Assert.True(rejected > 0);
        Assert.Equal(rejected, host.Catalog.CountersOf("inventory").RateLimited);
        Assert.Equal(rejected, host.Logs.Entries.Count(e => e.Category == "Mesh.Resilience" && e.Message.Contains("rate limit of 50 requests per second", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task With_a_queue_requests_over_the_limit_wait_for_a_permit()
    {
        using var host = Host(queueLimit: 10);
        var client = host.Client;

        var results = await Task.WhenAll(Enumerable.Range(0, 60).Select(async _ =>
        {
            try
            {
                using var response = await client.GetAsync("http://inventory/items");
                return true;
            }
            catch (MeshRateLimitedException)
            {
                return false;
            }
        }));

        Assert.Equal(60, results.Count(ok => ok));
        Assert.Equal(60, _backend.Requests);
    }

    private MeshTestHost Host(int queueLimit)
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_backend]);
        config["Mesh:Services:inventory:RateLimit:PermitsPerSecond"] = "50";
        config["Mesh:Services:inventory:RateLimit:Burst"] = "50";
        config["Mesh:Services:inventory:RateLimit:QueueLimit"] = queueLimit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return MeshTestHost.Create(config);
    }
}
