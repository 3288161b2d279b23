using System.Net;

namespace Meshd.Security;

/// <summary>
/// Failed authentications per client address, as a token bucket of <c>Meshd:Limits:AuthFailuresPerMinute</c>: once an
/// address has spent it, its requests are answered 429 with <c>Retry-After</c> before any token is compared, until the
/// bucket refills. At most <see cref="MaxAddresses"/> addresses are tracked; beyond, the newcomers share one bucket.
/// </summary>
internal sealed class AuthThrottle(MeshdSettings settings, TimeProvider time)
{
    internal const int MaxAddresses = 10_000;

    private readonly double _capacity = settings.Limits.AuthFailuresPerMinute;
    private readonly double _perSecond = settings.Limits.AuthFailuresPerMinute / 60.0;
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, Bucket> _buckets = [];
    private readonly Bucket _overflow = new();

    /// <summary>Whether <paramref name="address"/> may try a token now; when not, how long until it may.</summary>
    public bool MayTry(IPAddress? address, out TimeSpan retryAfter)
    {
        lock (_lock)
        {
            var bucket = Find(address, create: false);
            if (bucket is null || Refill(bucket) >= 1)
            {
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - bucket.Tokens) / _perSecond);
            return false;
        }
    }

    /// <summary>Counts one failed authentication from <paramref name="address"/>.</summary>
    public void Failed(IPAddress? address)
    {
        lock (_lock)
        {
            var bucket = Find(address, create: true)!;
            Refill(bucket);
            bucket.Tokens = Math.Max(0, bucket.Tokens - 1);
        }
    }

    private Bucket? Find(IPAddress? address, bool create)
    {
        var key = address is null ? IPAddress.None : address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        if (_buckets.TryGetValue(key, out var bucket))
        {
            return bucket;
        }

        if (!create)
        {
            return _buckets.Count >= MaxAddresses ? _overflow : null;
        }

        if (_buckets.Count >= MaxAddresses)
        {
            // Forget the addresses whose bucket is full again; the rest stay throttled.
            foreach (var (ip, old) in _buckets.ToList())
            {
                if (Refill(old) >= _capacity)
                {
                    _buckets.Remove(ip);
                }
            }

            if (_buckets.Count >= MaxAddresses)
            {
                return _overflow;
            }
        }

        bucket = new Bucket { Tokens = _capacity, At = time.GetTimestamp() };
        _buckets[key] = bucket;
        return bucket;
    }

    private double Refill(Bucket bucket)
    {
        var now = time.GetTimestamp();
        if (bucket.At == 0)
        {
            (bucket.Tokens, bucket.At) = (_capacity, now);
        }

        bucket.Tokens = Math.Min(_capacity, bucket.Tokens + (time.GetElapsedTime(bucket.At, now).TotalSeconds * _perSecond));
        bucket.At = now;
        return bucket.Tokens;
    }

    private sealed class Bucket
    {
        public double Tokens { get; set; }

        public long At { get; set; }
    }
}
