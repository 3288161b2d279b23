using Mesh.ControlPlane;
using Mesh.Identity;

namespace Mesh.Pipeline;

/// <summary>
/// What the mesh needs before its first call: the control plane's first snapshot (or the cached one) and the workload's
/// certificate when it has an identity, each waited for at most its start-up wait. Started by the host, or else by the
/// first request; never by a constructor.
/// </summary>
internal sealed class MeshReadiness(ControlPlaneWatcher controlPlane, IWorkloadIdentitySource identity)
{
    private readonly Lock _lock = new();
    private volatile Task? _ready;

    /// <summary>Starts what is needed, once; the task completes when the mesh is ready (it never fails).</summary>
    public Task StartAsync()
    {
        if (_ready is { } ready)
        {
            return ready;
        }

        lock (_lock)
        {
            return _ready ??= Task.Run(async () =>
            {
                await controlPlane.StartAsync().ConfigureAwait(false);
                await identity.StartAsync(CancellationToken.None).ConfigureAwait(false);
            });
        }
    }
}
