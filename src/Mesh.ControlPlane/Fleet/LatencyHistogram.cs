using Mesh.ControlPlane.Contract;

namespace Meshd.Fleet;

/// <summary>
/// Latency buckets added up across reports (bucket i holds calls of at most 0.1 ms × 1.25<sup>i</sup>), and their
/// quantiles read the way an instance reads its own: the upper bound of the bucket holding the rank, so meshd's figures
/// for one instance are exactly that instance's.
/// </summary>
internal sealed class LatencyHistogram
{
    private readonly long[] _counts = new long[InstanceReportLimits.LatencyBuckets];

    public long Requests { get; private set; }

    public long Successes { get; private set; }

    public double RequestsPerSecond { get; private set; }

    public void Add(TrafficDocument traffic)
    {
        Requests += traffic.Requests;
        Successes += traffic.Successes;
        RequestsPerSecond += traffic.Requests / traffic.Seconds;
        if (traffic.Latency is { } latency)
        {
            for (var i = 0; i < latency.Count; i++)
            {
                _counts[i] += latency[i];
            }
        }
    }

    public double SuccessRate => Requests == 0 ? 1 : Successes / (double)Requests;

    /// <summary>The quantile in milliseconds; 0 without requests.</summary>
    public double QuantileMs(double quantile)
    {
        if (Requests == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(quantile * Requests);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return UpperBoundMs(i);
            }
        }

        return UpperBoundMs(_counts.Length - 1);
    }

    // Through TimeSpan, as the instance reads it, so both sides print the same figure.
    private static double UpperBoundMs(int bucket) => TimeSpan.FromMilliseconds(InstanceReportLimits.FirstBucketMs * Math.Pow(InstanceReportLimits.BucketGrowth, bucket)).TotalMilliseconds;
}
