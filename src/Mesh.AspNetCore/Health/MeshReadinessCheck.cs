using Mesh.AspNetCore.Identity;
using Mesh.ControlPlane;
using Mesh.Identity;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Mesh.AspNetCore.Health;

/// <summary>
/// The mesh's readiness, as the health check <c>mesh</c> (tag <c>ready</c>) that <c>AddMeshServer()</c> adds: unhealthy
/// while a configured control plane has delivered no snapshot (it is unreachable, or refused the token) or refuses the
/// token, and while the workload has an identity but no valid certificate; degraded while it runs on a snapshot the
/// control plane cannot refresh now; healthy otherwise. Its data name the snapshot in force and the last problem.
/// </summary>
internal sealed class MeshReadinessCheck(ControlPlaneWatcher controlPlane, ServerIdentity identity, WorkloadCertificate workload) : IHealthCheck
{
    /// <summary>The name of the check.</summary>
    internal const string Name = "mesh";

    /// <summary>The tag readiness probes select it by.</summary>
    internal const string ReadyTag = "ready";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["snapshotVersion"] = controlPlane.Current.Version };
        if (controlPlane.Problem is { } problem)
        {
            data["controlPlane"] = problem;
        }

        if (identity.IsEnabled && !workload.TryGetCurrent(out _))
        {
            return Answer(HealthCheckResult.Unhealthy("The workload has an identity (Mesh:Identity:Source) but no valid certificate: mutual TLS fails closed until it has one.", data: data));
        }

        if (!controlPlane.IsConfigured)
        {
            return Answer(HealthCheckResult.Healthy("No control plane is configured.", data));
        }

        if (controlPlane.Current.Version == 0)
        {
            return Answer(HealthCheckResult.Unhealthy($"No snapshot from the control plane yet: {controlPlane.Problem ?? "none has arrived"}.", data: data));
        }

        if (controlPlane.Problem is { } refused && refused.Contains("refused the token", StringComparison.Ordinal))
        {
            return Answer(HealthCheckResult.Unhealthy($"The control plane refuses this workload's token; snapshot {controlPlane.Current.Version} stays in force but cannot change: {refused}.", data: data));
        }

        return Answer(controlPlane.Problem is { } unreachable
            ? HealthCheckResult.Degraded($"Running on snapshot {controlPlane.Current.Version}; the control plane cannot refresh it now: {unreachable}.", data: data)
            : HealthCheckResult.Healthy($"Snapshot {controlPlane.Current.Version} from the control plane is in force.", data));
    }

    private static Task<HealthCheckResult> Answer(HealthCheckResult result) => Task.FromResult(result);
}
