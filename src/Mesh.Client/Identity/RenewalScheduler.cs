using Mesh.Utilities;

namespace Mesh.Identity;

/// <summary>
/// When to renew a certificate, and when to try again after a failed renewal. Pure: the caller gives the times, the
/// scheduler gives an instant. Renewal falls at <see cref="IdentityOptions.RenewalFraction"/> of the lifetime, spread at
/// random by ± <see cref="IdentityOptions.RenewalJitter"/> so services started together renew apart. A failed renewal is
/// retried after a doubling back-off with jitter, never later than the current certificate's expiry.
/// </summary>
internal sealed class RenewalScheduler
{
    private readonly double _fraction;
    private readonly double _jitter;
    private readonly TimeSpan _backoff;
    private readonly TimeSpan _maxBackoff;
    private readonly MeshRandom _random;

    public RenewalScheduler(IdentityOptions options, MeshRandom random)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        _fraction = options.RenewalFraction;
        _jitter = options.RenewalJitter;
        _backoff = options.RenewalBackoff;
        _maxBackoff = options.MaxRenewalBackoff;
        _random = random;
    }

    /// <summary>Returns when a certificate valid from <paramref name="notBefore"/> to <paramref name="notAfter"/> should be renewed; drawn anew on each call.</summary>
    public DateTimeOffset RenewAt(DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var lifetime = notAfter - notBefore;
        if (lifetime <= TimeSpan.Zero)
        {
            return notBefore;
        }

        var fraction = _fraction + (((2 * _random.NextDouble()) - 1) * _jitter);
        return notBefore + (lifetime * Math.Clamp(fraction, 0, 1));
    }

    /// <summary>
    /// Returns when to try again after <paramref name="failures"/> renewals in a row have failed, the last at
    /// <paramref name="now"/>. While the current certificate (valid until <paramref name="notAfter"/>, when there is one) has
    /// not expired, the retry comes before its expiry: at most half the time left, and never after it.
    /// </summary>
    public DateTimeOffset RetryAt(DateTimeOffset now, int failures, DateTimeOffset? notAfter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);

        // Doubling from the first back-off, capped; then "equal jitter": between half and all of it, so a fleet cut off
        // together does not come back together.
        var doublings = Math.Min(failures - 1, 30);
        var backoff = TimeSpan.FromTicks((long)Math.Min(_backoff.Ticks * Math.Pow(2, doublings), _maxBackoff.Ticks));
        var delay = backoff * (0.5 + (0.5 * _random.NextDouble()));

        if (notAfter is { } expiry && expiry > now)
        {
            var left = expiry - now;
            var beforeExpiry = left / 2 > _backoff ? left / 2 : (left < _backoff ? left : _backoff);
            if (delay > beforeExpiry)
            {
                delay = beforeExpiry;
            }
        }

        return now + delay;
    }
}
