using Mesh.Balancing;
using Mesh.CircuitBreaking;
using Polly.Hedging;
using Polly.Testing;

namespace Mesh.Client.Tests.Resilience;

/// <summary>
/// The one order: rate limit → total timeout → retry (or hedging) → breaker → endpoint pick → attempt timeout.
/// Rate limit and total timeout run in the logical layer before its call pipeline (the mesh's retry loop around the
/// service breaker, or Polly's hedging over the breaker); pick and attempt timeout in the
/// concrete and endpoint layers after it (which the architecture test keeps below the logical one).
/// </summary>
public sealed class StrategyOrderTests
{
    [Fact]
    public void Retry_runs_outside_the_breaker_and_hedging_likewise()
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0"] = "http://127.0.0.1:5001",
            ["Mesh:Services:inventory:Hedging:Delay"] = "00:00:00.050",
        };
        using var host = MeshTestHost.Create(config);
        Assert.True(host.Catalog.TryGetService("inventory", out var service));

        // The retry is the mesh's own loop around the service breaker; hedging is Polly's, over the same breaker.
        Assert.NotNull(service.Policy.Pipeline.Retry);
        Assert.Same(service.Policy.Breaker, service.Policy.Pipeline.Breaker);
        Assert.Null(service.Policy.Pipeline.Hedging);

        Assert.Null(service.Policy.HedgingPipeline!.Retry);
        Assert.Null(service.Policy.HedgingPipeline.Breaker);
        var hedging = service.Policy.HedgingPipeline.Hedging!.GetPipelineDescriptor().Strategies.Select(s => s.Options!.GetType()).ToList();
        Assert.Equal([typeof(HedgingStrategyOptions<HttpResponseMessage>), typeof(BreakerStrategy.PollyOptions)], hedging);
    }

    [Fact]
    public void With_retries_and_breaker_switched_off_the_pipeline_is_empty()
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0"] = "http://127.0.0.1:5001",
            ["Mesh:Services:inventory:LoadBalancer"] = LoadBalancerNames.RoundRobin,
            ["Mesh:Services:inventory:Retry:Enabled"] = "false",
            ["Mesh:Services:inventory:CircuitBreaker:Enabled"] = "false",
        };
        using var host = MeshTestHost.Create(config);
        Assert.True(host.Catalog.TryGetService("inventory", out var service));

        Assert.Null(service.Policy.Pipeline.Retry);
        Assert.Null(service.Policy.Pipeline.Breaker);
        Assert.Null(service.Policy.Pipeline.Hedging);
        Assert.Null(service.Policy.HedgingPipeline);
    }
}
