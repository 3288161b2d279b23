using System.Collections.Concurrent;

namespace Mesh.AspNetCore.Identity;

/// <summary>Lets a refusal be logged at most once per interval per reason, so a flood of bad handshakes cannot flood the log.</summary>
internal sealed class RefusalLog(TimeProvider time, TimeSpan interval)
{
    internal static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, long> _last = new(StringComparer.Ordinal);

    public TimeSpan Interval { get; } = interval;

    /// <summary>Returns whether a refusal for <paramref name="reason"/> should be logged now; the first of each interval is.</summary>
    public bool ShouldLog(string reason)
    {
        var now = time.GetTimestamp();
        while (true)
        {
            if (!_last.TryGetValue(reason, out var last))
            {
                if (_last.TryAdd(reason, now))
                {
                    return true;
                }

                continue;
            }

            if (time.GetElapsedTime(last, now) < Interval)
            {
                return false;
            }

            if (_last.TryUpdate(reason, now, last))
            {
                return true;
            }
        }
    }
}
