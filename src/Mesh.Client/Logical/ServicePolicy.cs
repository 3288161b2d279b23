using System.Globalization;
using System.Text.Json;
using Mesh.CircuitBreaking;
using Mesh.Hedging;
using Mesh.RateLimiting;
using Mesh.Retry;
using Mesh.Routing;
using Mesh.Telemetry;
using Mesh.Utilities;
using Microsoft.Extensions.Logging;
using Polly;

namespace Mesh.Logical;

/// <summary>
/// The one composer of a service's strategies, in the one order: rate limit → total timeout (and the inherited
/// deadline) → retry, or hedging for calls that may be hedged → service breaker; each attempt then goes to the
/// concrete layer. Built from the service's options once and kept across reloads while those stay the same, so breaker
/// state, budget and limiter survive a reload that changes something else.
/// </summary>
internal sealed class ServicePolicy : IDisposable
{
    /// <summary>The log category of every resilience decision.</summary>
    internal const string LogCategory = "Mesh.Resilience";

    private readonly TimeProvider _time;
    private readonly MeshRandom _random;
    private readonly ILogger _logger;
    private readonly TimeSpan _budgetWindow;
    private readonly Lock _routeLock = new();
    private Dictionary<string, CallPipeline> _routePipelines = new(StringComparer.Ordinal);

    public ServicePolicy(string service, MeshServiceOptions options, ServiceCounters counters, TimeProvider time, MeshRandom random, ILogger logger)
    {
        Service = service;
        Counters = counters;
        Fingerprint = FingerprintOf(options);
        Timeout = options.Timeout;
        TimeoutHeader = ((long)Math.Ceiling(options.Timeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
        RateLimit = options.RateLimit is { } limit ? new RateLimitStrategy(service, limit, counters, logger) : null;
        Retry = new RetryStrategy(service, options.Retry, counters, time, random, logger);
        Hedging = options.Hedging is { } hedging ? new HedgingStrategy(service, hedging, Retry, counters, logger) : null;
        Breaker = options.CircuitBreaker.Enabled ? new BreakerStrategy(service, options.CircuitBreaker, counters, time, logger) : null;
        _time = time;
        _random = random;
        _logger = logger;
        _budgetWindow = options.Retry.Budget.Window;

        // One breaker pipeline, one breaker state: the service's retry, its hedging and every route's retry go through it.
        // The retry loop asks the breaker itself; inside Polly's hedging it is a Polly strategy over the same state.
        BreakerPipeline = Breaker is null ? null : new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddStrategy(_ => Breaker.AsPollyStrategy(), new BreakerStrategy.PollyOptions()).Build();

        Pipeline = new CallPipeline(Breaker, Retry.Rules.MaxAttempts > 1 ? Retry : null, time);
        HedgingPipeline = Hedging is null ? null : new CallPipeline(Compose(time, builder => builder.AddHedging(Hedging.CreateOptions())), time);
    }

    public string Service { get; }

    /// <summary>Gets a canonical form of the options the policy was built from, to tell whether a reload changed them.</summary>
    public string Fingerprint { get; }

    public ServiceCounters Counters { get; }

    public TimeSpan Timeout { get; }

    /// <summary>Gets <see cref="Timeout"/> as the <c>mesh-timeout</c> header's value, made once.</summary>
    public string TimeoutHeader { get; }

    public RateLimitStrategy? RateLimit { get; }

    public RetryStrategy Retry { get; }

    public HedgingStrategy? Hedging { get; }

    public BreakerStrategy? Breaker { get; }

    /// <summary>Gets the service breaker's state: <c>closed</c>, <c>open</c>, <c>half_open</c> or <c>disabled</c>.</summary>
    public string BreakerState => Breaker?.State ?? "disabled";

    /// <summary>Gets retries (when enabled) over the breaker (when enabled).</summary>
    public CallPipeline Pipeline { get; }

    /// <summary>Gets hedging over the breaker, when hedging is configured.</summary>
    public CallPipeline? HedgingPipeline { get; }

    /// <summary>Gets the service breaker as a Polly pipeline, which <see cref="HedgingPipeline"/> holds; <see cref="Pipeline"/> and every route's retry ask <see cref="Breaker"/> itself.</summary>
    public ResiliencePipeline<HttpResponseMessage>? BreakerPipeline { get; }

    /// <summary>
    /// The pipeline of a route with a retry of its own: that retry over the service breaker, drawing on the service's
    /// retry budget. Made once per distinct retry and kept with the policy, so a reload that leaves it as it was keeps it.
    /// </summary>
    public CallPipeline ForRoute(RetryOptions retry)
    {
        var key = JsonSerializer.Serialize(retry);
        lock (_routeLock)
        {
            if (_routePipelines.TryGetValue(key, out var pipeline))
            {
                return pipeline;
            }

            // A route may hold at most one retry, so more than the routes a service may have means old ones linger.
            if (_routePipelines.Count >= RouteOptionsValidator.MaxRoutes)
            {
                _routePipelines = new(StringComparer.Ordinal);
            }

            var strategy = new RetryStrategy(Service, retry, Counters, _time, _random, _logger, (Retry.Budget, _budgetWindow));
            pipeline = new CallPipeline(Breaker, strategy.Rules.MaxAttempts > 1 ? strategy : null, _time);
            _routePipelines[key] = pipeline;
            return pipeline;
        }
    }

    public static string FingerprintOf(MeshServiceOptions options) => JsonSerializer.Serialize(new
    {
        options.Timeout,
        options.Retry,
        options.CircuitBreaker,
        options.Hedging,
        options.RateLimit,
    });

    public void Dispose() => RateLimit?.Dispose();

    // Retry or hedging outside, the breaker inside: every attempt counts for the breaker, and an open breaker stops retries.
    // Hedging is Polly's, over the breaker as a Polly strategy; the retry is CallPipeline's own loop around the breaker.
    private ResiliencePipeline<HttpResponseMessage> Compose(TimeProvider time, Action<ResiliencePipelineBuilder<HttpResponseMessage>> outer)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time };
        outer(builder);
        if (BreakerPipeline is not null)
        {
            builder.AddPipeline(BreakerPipeline);
        }

        return builder.Build();
    }
}
