using Mesh.ControlPlane.Contract;
using Mesh.Telemetry;

namespace Mesh.AspNetCore.Telemetry;

/// <summary>
/// The last minute of requests this server served, per caller (the name <see cref="MeshServerMetrics"/> tags them with):
/// the inbound side of <c>/mesh/stats</c> and of the instance's report to meshd. A caller's name is untrusted input on a
/// server without identity, so the callers kept apart are bounded: a name a report cannot carry (empty, longer than
/// 256, anything but printable ASCII without spaces), and every new caller past <see cref="MaxCallers"/>, count as
/// <see cref="MeshServerMetrics.UnknownCaller"/>.
/// </summary>
internal sealed class InboundStats(TimeProvider time)
{
    /// <summary>The most callers kept apart: four times what a report carries, so the busiest are among them.</summary>
    public const int MaxCallers = InstanceReportLimits.Peers * 4;

    private readonly TrafficWindow _window = new(time, MaxCallers, MeshServerMetrics.UnknownCaller);

    /// <summary>Records one served request.</summary>
    public void Record(string caller, TimeSpan duration, bool success) =>
        _window.Record(IsReportable(caller) ? caller : MeshServerMetrics.UnknownCaller, duration, success);

    /// <summary>Whether a name can go in a report as meshd takes it: 1 to 256 printable ASCII characters, no space.</summary>
    public static bool IsReportable(string name)
    {
        if (name.Length is 0 or > InstanceReportLimits.NameLength)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Gets the counts of every caller in the last minute, busiest first.</summary>
    public IReadOnlyList<TrafficCounts> GetCounts() => _window.GetCounts();
}
