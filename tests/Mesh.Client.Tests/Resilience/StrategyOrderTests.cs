using Mesh.Balancing;
using Polly.CircuitBreaker;
using Polly.Hedging;
using Polly.Retry;
using Polly.Testing;

namespace Mesh.Client.Tests.Resilience;

/// <summary>
/// The one order: rate limit → total timeout → retry (or hedging) → breaker → endpoint pick → attempt timeout.
/// Rate limit and total timeout run in the logical layer before its Polly pipeline; pick and attempt timeout in the
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

        var retry = service.Policy.Pipeline.GetPipelineDescriptor().Strategies.Select(s => s.StrategyInstance.GetType()).ToList();
        var hedging = service.Policy.HedgingPipeline!.GetPipelineDescriptor().Strategies.Select(s => s.Options!.GetType()).ToList();

        Assert.Equal(2, retry.Count);
        Assert.Contains("Retry", retry[0].Name, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker", retry[1].Name, StringComparison.Ordinal);
        Assert.Equal([typeof(HedgingStrategyOptions<HttpResponseMessage>), typeof(CircuitBreakerStrategyOptions<HttpResponseMessage>)], hedging);
        Assert.IsType<RetryStrategyOptions<HttpResponseMessage>>(service.Policy.Pipeline.GetPipelineDescriptor().Strategies[0].Options);
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

        Assert.Empty(service.Policy.Pipeline.GetPipelineDescriptor().Strategies);
        Assert.Null(service.Policy.HedgingPipeline);
    }
}
