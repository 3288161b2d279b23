namespace Mesh.Telemetry;

/// <summary>Golden metrics of the calls to one service over the last minute, as <see cref="MeshStats"/> reports them.</summary>
/// <param name="Service">The logical name of the service.</param>
/// <param name="Requests">The calls made in the window.</param>
/// <param name="RequestsPerSecond">The calls per second over the window (or since the first call, when sooner).</param>
/// <param name="SuccessRate">The share of calls that got an answer below 500, from 0 to 1.</param>
/// <param name="P50">The median call duration.</param>
/// <param name="P95">The 95th percentile of call duration.</param>
/// <param name="P99">The 99th percentile of call duration.</param>
public sealed record MeshServiceStats(string Service, long Requests, double RequestsPerSecond, double SuccessRate, TimeSpan P50, TimeSpan P95, TimeSpan P99);
