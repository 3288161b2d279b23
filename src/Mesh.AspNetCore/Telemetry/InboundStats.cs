using Mesh.ControlPlane.Contract;
using Mesh.Telemetry;

namespace Mesh.AspNetCore.Telemetry;

/// <summary>
/// The last minute of requests this server served, per caller (the name <see cref="MeshServerMetrics"/> tags them with):
/// the inbound side of <c>/mesh/stats</c> and of the instance's report to meshd. A caller's name is untrusted input on a
/// server without identity, so the callers kept apart are bounded: a name longer than a report allows, and every new
/// caller past <see cref="MaxCallers"/>, count as <see cref="MeshServerMetrics.UnknownCaller"/>.
/// </summary>
internal sealed class InboundStats(TimeProvider time)
{
    /// <summary>The most callers kept apart: four times what a report carries, so the busiest are among them.</summary>
    public const int MaxCallers = InstanceReportLimits.Peers * 4;

    private readonly TrafficWindow _window = new(time, MaxCallers, MeshServerMetrics.UnknownCaller);

    /// <summary>Records one served request.</summary>
    public void Record(string caller, TimeSpan duration, bool success) =>
        _window.Record(caller.Length <= InstanceReportLimits.NameLength ? caller : MeshServerMetrics.UnknownCaller, duration, success);

    /// <summary>Gets the counts of every caller in the last minute, busiest first.</summary>
    public IReadOnlyList<TrafficCounts> GetCounts() => _window.GetCounts();
}
