namespace Mesh.Resilience;

/// <summary>Counts of the mesh's decisions for one service, kept for the life of the process; telemetry reads them.</summary>
internal sealed class ResilienceCounters
{
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

    public void Retry() => Interlocked.Increment(ref _retries);

    public void Hedge() => Interlocked.Increment(ref _hedges);

    public void BudgetExhaust() => Interlocked.Increment(ref _budgetExhausted);

    public void RateLimit() => Interlocked.Increment(ref _rateLimited);

    public void BreakerOpen() => Interlocked.Increment(ref _breakerOpened);

    public void Eject() => Interlocked.Increment(ref _ejections);
}
