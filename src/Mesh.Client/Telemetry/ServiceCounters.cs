namespace Mesh.Telemetry;

/// <summary>
/// Counts of the mesh's decisions for one service, kept for the life of the process and recorded on the mesh's
/// meter as they happen.
/// </summary>
internal sealed class ServiceCounters(string service, MeshMetrics metrics)
{
    private readonly KeyValuePair<string, object?> _service = new(MeshTags.Service, service);
    private long _retries;
    private long _hedges;
    private long _budgetExhausted;
    private long _rateLimited;
    private long _breakerOpened;
    private long _ejections;
    private long _mirrorsSent;
    private long _mirrorsFailed;
    private long _mirrorsSkipped;

    public long Retries => Interlocked.Read(ref _retries);

    public long Hedges => Interlocked.Read(ref _hedges);

    public long BudgetExhausted => Interlocked.Read(ref _budgetExhausted);

    public long RateLimited => Interlocked.Read(ref _rateLimited);

    public long BreakerOpened => Interlocked.Read(ref _breakerOpened);

    public long Ejections => Interlocked.Read(ref _ejections);

    public void Retry()
    {
        Interlocked.Increment(ref _retries);
        metrics.Retries.Add(1, _service);
    }

    public void Hedge()
    {
        Interlocked.Increment(ref _hedges);
        metrics.Hedges.Add(1, _service);
    }

    public void BudgetExhaust()
    {
        Interlocked.Increment(ref _budgetExhausted);
        metrics.BudgetExhausted.Add(1, _service);
    }

    public void RateLimit()
    {
        Interlocked.Increment(ref _rateLimited);
        metrics.RateLimited.Add(1, _service);
    }

    /// <summary>Records a breaker state change: <c>open</c>, <c>half_open</c> or <c>closed</c>.</summary>
    public void BreakerTransition(string state)
    {
        if (state == "open")
        {
            Interlocked.Increment(ref _breakerOpened);
        }

        metrics.BreakerTransitions.Add(1, _service, new(MeshTags.BreakerState, state));
    }

    public void Eject()
    {
        Interlocked.Increment(ref _ejections);
        metrics.Ejections.Add(1, _service);
    }

    public long MirrorsSent => Interlocked.Read(ref _mirrorsSent);

    public long MirrorsFailed => Interlocked.Read(ref _mirrorsFailed);

    public long MirrorsSkipped => Interlocked.Read(ref _mirrorsSkipped);

    /// <summary>Records the fate of one copy a route mirrors: <see cref="MirrorOutcomes.Sent"/>, <see cref="MirrorOutcomes.Failed"/> or <see cref="MirrorOutcomes.Skipped"/>.</summary>
    public void Mirror(string route, string outcome)
    {
        Interlocked.Increment(ref outcome == MirrorOutcomes.Sent ? ref _mirrorsSent : ref outcome == MirrorOutcomes.Failed ? ref _mirrorsFailed : ref _mirrorsSkipped);
        metrics.Mirrors.Add(1, _service, new(MeshTags.RouteName, route), new(MeshTags.MirrorOutcome, outcome));
    }
}
