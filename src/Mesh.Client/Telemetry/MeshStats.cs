namespace Mesh.Telemetry;

/// <summary>
/// Live golden metrics per destination service (requests per second, success rate, latency percentiles) over a sliding
/// window of the last 60 seconds, kept in process; the in-process counterpart of <c>linkerd viz stat</c>.
/// Resolve it from the service provider after <c>AddMesh()</c>.
/// </summary>
public sealed class MeshStats
{
    /// <summary>The length of the window, in seconds.</summary>
    internal const int WindowSeconds = TrafficWindow.WindowSeconds;

    private readonly TrafficWindow _window;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="timeProvider">The clock of the window.</param>
    public MeshStats(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _window = new TrafficWindow(timeProvider);
    }

    /// <summary>Gets the statistics of every service called in the last minute, by name.</summary>
    /// <returns>One entry per service.</returns>
    public IReadOnlyList<MeshServiceStats> GetSnapshot() =>
        [.. GetCounts().OrderBy(c => c.Peer, StringComparer.Ordinal).Select(c => new MeshServiceStats(
            c.Peer,
            c.Requests,
            c.RequestsPerSecond,
            c.SuccessRate,
            TimeSpan.FromMilliseconds(c.PercentileMs(0.50)),
            TimeSpan.FromMilliseconds(c.PercentileMs(0.95)),
            TimeSpan.FromMilliseconds(c.PercentileMs(0.99))))];

    /// <summary>Gets the raw counts of every service called in the last minute, busiest first.</summary>
    internal IReadOnlyList<TrafficCounts> GetCounts() => _window.GetCounts();

    /// <summary>Records one finished call.</summary>
    internal void Record(string service, TimeSpan duration, bool success) => _window.Record(service, duration, success);
}
