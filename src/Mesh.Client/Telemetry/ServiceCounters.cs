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
}
