namespace Mesh.Utilities;

/// <summary>Exponential back-off with full jitter: every wait is drawn from [0, min(cap, base × 2^n)), so callers that failed together spread out.</summary>
internal static class Backoff
{
    /// <summary>The wait before try <paramref name="retry"/> + 1, where <paramref name="retry"/> counts from 0.</summary>
    public static TimeSpan FullJitter(int retry, TimeSpan baseDelay, TimeSpan cap, MeshRandom random)
    {
        var ceiling = Math.Min(cap.Ticks, baseDelay.Ticks * Math.Pow(2, Math.Clamp(retry, 0, 30)));
        return TimeSpan.FromTicks((long)(ceiling * random.NextDouble()));
    }
}
