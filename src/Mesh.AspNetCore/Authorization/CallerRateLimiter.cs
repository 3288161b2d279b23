using System.Threading.RateLimiting;
using Mesh.Authorization;

namespace Mesh.AspNetCore.Authorization;

/// <summary>
/// The per-caller token buckets of the policy's <c>RateLimitPerCaller</c>: one partition per key, kept while the limit is
/// unchanged and rebuilt whole when it changes. Idle buckets are dropped by the partitioned limiter.
/// </summary>
internal sealed class CallerRateLimiter : IDisposable
{
    private readonly object _gate = new();
    private (CallerRateLimit Limit, PartitionedRateLimiter<string> Limiter)? _current;

    /// <summary>Takes a permit for <paramref name="key"/> under <paramref name="limit"/>; the lease says whether it was granted.</summary>
    public RateLimitLease Acquire(CallerRateLimit limit, string key) => For(limit).AttemptAcquire(key);

    public void Dispose()
    {
        lock (_gate)
        {
            _current?.Limiter.Dispose();
            _current = null;
        }
    }

    private PartitionedRateLimiter<string> For(CallerRateLimit limit)
    {
        var current = _current;
        if (current is { } c && c.Limit == limit)
        {
            return c.Limiter;
        }

        lock (_gate)
        {
            if (_current is { } again && again.Limit == limit)
            {
                return again.Limiter;
            }

            var limiter = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = limit.Burst,
                TokensPerPeriod = limit.PermitsPerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
            var old = _current;
            _current = (limit, limiter);
            old?.Limiter.Dispose();
            return limiter;
        }
    }
}
