using System.Threading.RateLimiting;
using Mesh.Telemetry;
using Microsoft.Extensions.Logging;

namespace Mesh.RateLimiting;

/// <summary>
/// The client-side rate limit of one service: a token bucket refilled in small steps, so the rate holds within a
/// second. Over it, a call waits in a bounded queue or fails at once with <see cref="MeshRateLimitedException"/>,
/// never sent.
/// </summary>
internal sealed partial class RateLimitStrategy : IDisposable
{
    private readonly string _service;
    private readonly ServiceCounters _counters;
    private readonly ILogger _logger;
    private readonly TokenBucketRateLimiter _limiter;

    public RateLimitStrategy(string service, RateLimitOptions options, ServiceCounters counters, ILogger logger)
    {
        _service = service;
        _counters = counters;
        _logger = logger;
        PermitsPerSecond = options.PermitsPerSecond;

        // Refill in small steps (at least every 20 ms) so the rate holds within a second, not only on average.
        var period = TimeSpan.FromMilliseconds(Math.Max(10, 1000.0 / options.PermitsPerSecond));
        var tokens = Math.Max(1, (int)Math.Round(options.PermitsPerSecond * period.TotalSeconds));
        _limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.Burst,
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = TimeSpan.FromSeconds(tokens / (double)options.PermitsPerSecond),
            QueueLimit = options.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }

    public int PermitsPerSecond { get; }

    /// <summary>Takes a permit for one call, waiting in the queue when there is room.</summary>
    /// <exception cref="MeshRateLimitedException">No permit: the call must not be sent.</exception>
    public async ValueTask AcquireAsync(CancellationToken cancellationToken)
    {
        using var lease = _limiter.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return;
        }

        using var queued = await _limiter.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
        if (!queued.IsAcquired)
        {
            _counters.RateLimit();
            LogRateLimited(_logger, _service, PermitsPerSecond);
            throw new MeshRateLimitedException(_service, PermitsPerSecond);
        }
    }

    public void Dispose() => _limiter.Dispose();
}
