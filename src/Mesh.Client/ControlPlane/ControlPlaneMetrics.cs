using System.Diagnostics.Metrics;
using Mesh.Telemetry;

namespace Mesh.ControlPlane;

/// <summary>The control-plane client's instruments, on the same <c>Mesh</c> meter as the rest of the mesh.</summary>
internal sealed class ControlPlaneMetrics
{
    public ControlPlaneMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeshTelemetry.Name, typeof(ControlPlaneMetrics).Assembly.GetName().Version?.ToString());
        Applied = meter.CreateCounter<long>("mesh.control_plane.snapshot.applied", "{snapshot}", "Control-plane snapshots applied, from the control plane or the disk cache.");
        Rejected = meter.CreateCounter<long>("mesh.control_plane.snapshot.rejected", "{snapshot}", "Control-plane snapshots refused whole because they failed validation; the last good one stayed.");
        WatchFailures = meter.CreateCounter<long>("mesh.control_plane.watch.failures", "{failure}", "Watch requests to the control plane that failed; each is followed by a jittered back-off.");
    }

    public Counter<long> Applied { get; }

    public Counter<long> Rejected { get; }

    public Counter<long> WatchFailures { get; }
}
