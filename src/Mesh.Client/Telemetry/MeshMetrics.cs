using System.Diagnostics.Metrics;

namespace Mesh.Telemetry;

/// <summary>
/// The mesh's instruments, on a meter named <c>Mesh</c> from the container's <see cref="IMeterFactory"/> (which owns and disposes it). Names and units
/// follow OpenTelemetry's conventions; durations are in seconds, with buckets from half a millisecond to ten seconds.
/// </summary>
internal sealed class MeshMetrics
{
    /// <summary>Bucket boundaries for service latencies, from half a millisecond to ten seconds, given as advice.</summary>
    internal static readonly InstrumentAdvice<double> LatencyBuckets = new()
    {
        HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    };

    private readonly Meter _meter;
    private volatile IEndpointCounts? _endpoints;

    public MeshMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeshTelemetry.Name, typeof(MeshMetrics).Assembly.GetName().Version?.ToString());
        RequestDuration = _meter.CreateHistogram("mesh.client.request.duration", "s", "Duration of logical calls to mesh services, every attempt included.", advice: LatencyBuckets);
        AttemptDuration = _meter.CreateHistogram("mesh.client.attempt.duration", "s", "Duration of single attempts on one endpoint.", advice: LatencyBuckets);
        ActiveRequests = _meter.CreateUpDownCounter<long>("mesh.client.active_requests", "{request}", "Logical calls in flight.");
        Retries = _meter.CreateCounter<long>("mesh.client.retries", "{retry}", "Attempts made again after a failure.");
        Hedges = _meter.CreateCounter<long>("mesh.client.hedges", "{hedge}", "Hedged attempts sent.");
        BudgetExhausted = _meter.CreateCounter<long>("mesh.client.retry_budget.exhausted", "{retry}", "Retries and hedges refused by the retry budget.");
        RateLimited = _meter.CreateCounter<long>("mesh.client.rate_limited", "{request}", "Calls refused by the client-side rate limit.");
        BreakerTransitions = _meter.CreateCounter<long>("mesh.client.circuit_breaker.transitions", "{transition}", "Circuit breaker state changes.");
        Ejections = _meter.CreateCounter<long>("mesh.client.ejections", "{ejection}", "Endpoints ejected by outlier detection.");
        Faults = _meter.CreateCounter<long>("mesh.client.faults", "{fault}", "Faults a route injected into attempts: a delay or an abort.");
        Mirrors = _meter.CreateCounter<long>("mesh.client.mirror.requests", "{request}", "Copies of requests a route mirrors, by outcome: sent (answered), failed or skipped.");
        _meter.CreateObservableGauge("mesh.client.endpoints", ObserveEndpoints, "{endpoint}", "Endpoints known per service, available or ejected.");
    }

    public Histogram<double> RequestDuration { get; }

    public Histogram<double> AttemptDuration { get; }

    public UpDownCounter<long> ActiveRequests { get; }

    public Counter<long> Retries { get; }

    public Counter<long> Hedges { get; }

    public Counter<long> BudgetExhausted { get; }

    public Counter<long> RateLimited { get; }

    public Counter<long> BreakerTransitions { get; }

    public Counter<long> Ejections { get; }

    public Counter<long> Faults { get; }

    public Counter<long> Mirrors { get; }

    /// <summary>Tells the endpoint gauges where to read the endpoints of every service; the mesh's catalog does when it is built.</summary>
    public void Observe(IEndpointCounts endpoints) => _endpoints = endpoints;

    private IEnumerable<Measurement<int>> ObserveEndpoints()
    {
        if (_endpoints is not { } endpoints)
        {
            yield break;
        }

        foreach (var (service, available, ejected) in endpoints.CountEndpoints())
        {
            yield return new Measurement<int>(available, new(MeshTags.Service, service), new(MeshTags.EndpointState, "available"));
            yield return new Measurement<int>(ejected, new(MeshTags.Service, service), new(MeshTags.EndpointState, "ejected"));
        }
    }
}
