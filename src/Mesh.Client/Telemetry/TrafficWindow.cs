using System.Collections.Concurrent;

namespace Mesh.Telemetry;

/// <summary>
/// The last minute of calls with each peer (a destination service, or a caller), in per-second slots that each hold a
/// log-scale latency histogram: bucket i counts durations up to <see cref="FirstBoundMs"/> × <see cref="Growth"/>^i,
/// from 0.1 ms to past a minute in <see cref="Buckets"/> buckets, within 25%. Recording takes one dictionary read and
/// one slot lock, and allocates nothing once the peer is known.
/// </summary>
internal sealed class TrafficWindow
{
    /// <summary>The length of the window, in seconds.</summary>
    public const int WindowSeconds = 60;

    /// <summary>The upper bound of the first latency bucket, in milliseconds.</summary>
    public const double FirstBoundMs = 0.1;

    /// <summary>The ratio between one bucket's upper bound and the previous one's.</summary>
    public const double Growth = 1.25;

    /// <summary>The number of latency buckets; the last holds everything longer.</summary>
    public const int Buckets = 64;

    private readonly ConcurrentDictionary<string, PeerWindow> _peers = new(StringComparer.OrdinalIgnoreCase);
    private readonly TimeProvider _time;
    private readonly int _maxPeers;
    private readonly string? _overflow;

    /// <summary>Initializes a window.</summary>
    /// <param name="time">The clock.</param>
    /// <param name="maxPeers">The most peers kept apart; past it, calls of a new peer count under <paramref name="overflow"/>.</param>
    /// <param name="overflow">The peer that stands for the peers past <paramref name="maxPeers"/>; none keeps every peer apart.</param>
    public TrafficWindow(TimeProvider time, int maxPeers = int.MaxValue, string? overflow = null)
    {
        _time = time;
        _maxPeers = maxPeers;
        _overflow = overflow;
    }

    /// <summary>
    /// The upper bound of latency bucket <paramref name="index"/>, in milliseconds, as a <see cref="TimeSpan"/> holds it
    /// (whole ticks), so <c>/mesh/stats</c>, <see cref="MeshStats"/> and meshd's fleet view print the same figure.
    /// </summary>
    public static double UpperBoundMs(int index) => TimeSpan.FromMilliseconds(FirstBoundMs * Math.Pow(Growth, index)).TotalMilliseconds;

    /// <summary>The bucket a duration falls in.</summary>
    public static int BucketOf(double milliseconds) =>
        milliseconds <= FirstBoundMs ? 0 : Math.Min(Buckets - 1, (int)Math.Ceiling(Math.Log(milliseconds / FirstBoundMs, Growth)));

    /// <summary>Records one finished call with <paramref name="peer"/>.</summary>
    public void Record(string peer, TimeSpan duration, bool success)
    {
        var second = NowSecond();
        if (!_peers.TryGetValue(peer, out var window))
        {
            // Past the bound (a peer name is untrusted input on the inbound side), new peers share one entry.
            if (_overflow is not null && _peers.Count >= _maxPeers)
            {
                peer = _overflow;
            }

            window = _peers.GetOrAdd(peer, static name => new PeerWindow(name));
        }

        window.Record(second, duration, success);
    }

    /// <summary>Gets the counts of every peer with calls in the last minute, busiest first; peers quiet for a whole window are forgotten.</summary>
    public IReadOnlyList<TrafficCounts> GetCounts()
    {
        var now = NowSecond();
        var counts = new List<TrafficCounts>(_peers.Count);
        foreach (var (name, window) in _peers)
        {
            var peer = window.Counts(now);
            if (peer.Requests > 0)
            {
                counts.Add(peer);
            }
            else if (now - window.LastSecond >= WindowSeconds)
            {
                // A call recorded in the instant between its lookup and this removal is lost: one call, after a minute of none.
                _peers.TryRemove(new KeyValuePair<string, PeerWindow>(name, window));
            }
        }

        counts.Sort(static (a, b) => a.Requests != b.Requests ? b.Requests.CompareTo(a.Requests) : string.CompareOrdinal(a.Peer, b.Peer));
        return counts;
    }

    private long NowSecond() => _time.GetTimestamp() / _time.TimestampFrequency;

    /// <summary>One peer's calls in per-second slots.</summary>
    private sealed class PeerWindow(string peer)
    {
        private readonly Slot[] _slots = Enumerable.Range(0, WindowSeconds).Select(_ => new Slot()).ToArray();
        private long _firstSecond = -1;
        private long _lastSecond = -1;

        public long LastSecond => Interlocked.Read(ref _lastSecond);

        public void Record(long second, TimeSpan duration, bool success)
        {
            // Read before written: every call of every thread passes here, and a write would take the line from the other cores.
            if (Volatile.Read(ref _firstSecond) == -1)
            {
                Interlocked.CompareExchange(ref _firstSecond, second, -1);
            }

            if (Volatile.Read(ref _lastSecond) < second)
            {
                Interlocked.Exchange(ref _lastSecond, second);
            }

            var slot = _slots[second % WindowSeconds];
            lock (slot)
            {
                if (slot.Second != second)
                {
                    slot.Reset(second);
                }

                slot.Requests++;
                slot.Successes += success ? 1 : 0;
                slot.Latency[BucketOf(duration.TotalMilliseconds)]++;
            }
        }

        public TrafficCounts Counts(long now)
        {
            long requests = 0, successes = 0;
            var latency = new long[Buckets];
            foreach (var slot in _slots)
            {
                lock (slot)
                {
                    if (now - slot.Second >= WindowSeconds || slot.Second > now)
                    {
                        continue;
                    }

                    requests += slot.Requests;
                    successes += slot.Successes;
                    for (var i = 0; i < Buckets; i++)
                    {
                        latency[i] += slot.Latency[i];
                    }
                }
            }

            var first = Interlocked.Read(ref _firstSecond);
            var seconds = first < 0 ? WindowSeconds : Math.Clamp(now - first + 1, 1, WindowSeconds);
            return new TrafficCounts(peer, requests, successes, seconds, latency);
        }
    }

    private sealed class Slot
    {
        public long Second { get; private set; } = -WindowSeconds;

        public long Requests { get; set; }

        public long Successes { get; set; }

        public long[] Latency { get; } = new long[Buckets];

        public void Reset(long second)
        {
            Second = second;
            Requests = 0;
            Successes = 0;
            Array.Clear(Latency);
        }
    }
}

/// <summary>One peer's calls over the window, as raw counts that add up across instances.</summary>
/// <param name="Peer">The destination service or the caller.</param>
/// <param name="Requests">Calls in the window.</param>
/// <param name="Successes">Calls answered below 500.</param>
/// <param name="Seconds">The seconds the window covers: 60, or since the first call when sooner.</param>
/// <param name="Latency">Calls per latency bucket (<see cref="TrafficWindow.Buckets"/> of them).</param>
internal sealed record TrafficCounts(string Peer, long Requests, long Successes, long Seconds, long[] Latency)
{
    /// <summary>Gets the calls per second over the window.</summary>
    public double RequestsPerSecond => Requests / (double)Seconds;

    /// <summary>Gets the share of calls answered below 500; 1 without calls.</summary>
    public double SuccessRate => Requests == 0 ? 1 : Successes / (double)Requests;

    /// <summary>
    /// The upper bound, in milliseconds, of the bucket that holds the <paramref name="percentile"/>: never under the true
    /// value, at most 25% over; zero without calls.
    /// </summary>
    public double PercentileMs(double percentile)
    {
        if (Requests == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(percentile * Requests);
        long seen = 0;
        for (var i = 0; i < Latency.Length; i++)
        {
            seen += Latency[i];
            if (seen >= rank)
            {
                return TrafficWindow.UpperBoundMs(i);
            }
        }

        return TrafficWindow.UpperBoundMs(TrafficWindow.Buckets - 1);
    }

    /// <summary>The latency buckets without the trailing empty ones.</summary>
    public long[] TrimmedLatency()
    {
        var length = Latency.Length;
        while (length > 0 && Latency[length - 1] == 0)
        {
            length--;
        }

        return Latency[..length];
    }
}
