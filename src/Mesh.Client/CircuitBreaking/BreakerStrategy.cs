using Mesh.Resilience;
using Mesh.Telemetry;
using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;

namespace Mesh.CircuitBreaking;

/// <summary>
/// The breaker of one service (Polly's): attempts that fail against the service (5xx, a broken exchange, an attempt
/// timeout) open it; while open, calls fail at once; half-open, one probe decides. Keeps its state for
/// <c>/mesh/stats</c> (its <c>outbound</c> entry for the service) and counts its transitions.
/// </summary>
internal sealed partial class BreakerStrategy(string service, CircuitBreakerOptions options, ServiceCounters counters, ILogger logger)
{
    public const string Closed = "closed";
    public const string Open = "open";
    public const string HalfOpen = "half_open";

    private volatile string _state = Closed;

    /// <summary>Gets the state as of the last transition: <c>closed</c>, <c>open</c> or <c>half_open</c>.</summary>
    public string State => _state;

    /// <summary>The Polly strategy.</summary>
    public CircuitBreakerStrategyOptions<HttpResponseMessage> CreateOptions() => new()
    {
        FailureRatio = options.FailureRatio,
        MinimumThroughput = options.MinimumThroughput,
        SamplingDuration = options.SamplingDuration,
        BreakDuration = options.BreakDuration,
        ShouldHandle = args => ValueTask.FromResult(Failures.CountsAgainstService(Failures.Classify(args.Outcome, CallProperties.CallOf(args.Context).Protocol))),
        OnOpened = args =>
        {
            Transition(Open);
            LogOpened(logger, service, args.BreakDuration.TotalSeconds);
            return default;
        },
        OnHalfOpened = _ =>
        {
            Transition(HalfOpen);
            LogHalfOpen(logger, service);
            return default;
        },
        OnClosed = _ =>
        {
            Transition(Closed);
            LogClosed(logger, service);
            return default;
        },
    };

    /// <summary>The exception a caller gets for a call the open breaker refused, naming the service.</summary>
    public static MeshCircuitOpenException Refused(string service, BrokenCircuitException broken) => new(service, broken.RetryAfter, broken);

    private void Transition(string state)
    {
        _state = state;
        counters.BreakerTransition(state);
    }
}
