using System.Collections.Concurrent;

namespace Mesh.Telemetry;

/// <summary>
/// Live golden metrics per destination service (requests per second, success rate, latency percentiles) over a sliding
/// window of the last 60 seconds, kept in process; the in-process counterpart of <c>linkerd viz stat</c>.
/// Resolve it from the service provider after <c>AddMesh()</c>.
/// </summary>
public sealed class MeshStats
{
    /// <summary>The length of the window, in seconds.</summary>
    internal const int WindowSeconds = 60;

    private readonly ConcurrentDictionary<string, ServiceWindow> _services = new(StringComparer.OrdinalIgnoreCase);
    private readonly TimeProvider _time;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="timeProvider">The clock of the window.</param>
    public MeshStats(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _time = timeProvider;
    }

    /// <summary>Gets the statistics of every service called in the last minute, by name.</summary>
    /// <returns>One entry per service.</returns>
    public IReadOnlyList<MeshServiceStats> GetSnapshot()
    {
        var now = NowSecond();
        return [.. _services.Values.Select(w => w.Snapshot(now)).Where(s => s.Requests > 0).OrderBy(s => s.Service, StringComparer.Ordinal)];
    }

    /// <summary>Records one finished call.</summary>
    internal void Record(string service, TimeSpan duration, bool success) =>
        _services.GetOrAdd(service, static name => new ServiceWindow(name)).Record(NowSecond(), duration, success);

    private long NowSecond() => _time.GetTimestamp() / _time.TimestampFrequency;

    /// <summary>One service's calls in per-second slots, each with a log-scale latency histogram.</summary>
    private sealed class ServiceWindow(string service)
    {
        // Bucket i holds durations up to 0.1 ms × 1.25^i: from 0.1 ms to past a minute in 64 buckets, within 25%.
        private const double FirstBoundMs = 0.1;
        private const double Growth = 1.25;
        private const int Buckets = 64;

        private readonly Slot[] _slots = Enumerable.Range(0, WindowSeconds).Select(_ => new Slot()).ToArray();
        private long _firstSecond = -1;

        public void Record(long second, TimeSpan duration, bool success)
        {
            Interlocked.CompareExchange(ref _firstSecond, second, -1);
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

        public MeshServiceStats Snapshot(long now)
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
            return new MeshServiceStats(
                service,
                requests,
                requests / (double)seconds,
                requests == 0 ? 1 : successes / (double)requests,
                Percentile(latency, requests, 0.50),
                Percentile(latency, requests, 0.95),
                Percentile(latency, requests, 0.99));
        }

        private static int BucketOf(double milliseconds) =>
            milliseconds <= FirstBoundMs ? 0 : Math.Min(Buckets - 1, (int)Math.Ceiling(Math.Log(milliseconds / FirstBoundMs, Growth)));

        // The upper bound of the bucket that holds the percentile: never under the true value, at most 25% over.
        private static TimeSpan Percentile(long[] latency, long requests, double percentile)
        {
            if (requests == 0)
            {
                return TimeSpan.Zero;
            }

            var rank = (long)Math.Ceiling(percentile * requests);
            long seen = 0;
            for (var i = 0; i < Buckets; i++)
            {
                seen += latency[i];
                if (seen >= rank)
                {
                    return TimeSpan.FromMilliseconds(FirstBoundMs * Math.Pow(Growth, i));
                }
            }

            return TimeSpan.FromMilliseconds(FirstBoundMs * Math.Pow(Growth, Buckets - 1));
        }
    }

    private sealed class Slot
    {
        public long Second { get; private set; } = -WindowSeconds;

        public long Requests { get; set; }

        public long Successes { get; set; }

        public long[] Latency { get; } = new long[64];

        public void Reset(long second)
        {
            Second = second;
            Requests = 0;
            Successes = 0;
            Array.Clear(Latency);
        }
    }
}
