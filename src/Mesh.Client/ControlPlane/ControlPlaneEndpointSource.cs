using Mesh.Discovery;
using Mesh.Utilities;
using Microsoft.Extensions.Primitives;

namespace Mesh.ControlPlane;

/// <summary>
/// The instances registered with the control plane. It introduces every service the control plane's snapshot names,
/// and while the control plane is in use it answers for every service, with no endpoint when none is registered yet:
/// such a service is an ordinary service with an empty endpoint set. Asked after static configuration, so a service
/// with local <c>Endpoints</c> keeps them.
/// </summary>
internal sealed class ControlPlaneEndpointSource(ControlPlaneWatcher watcher) : IEndpointSource
{
    public const string SourceName = DiscoverySources.ControlPlane;

    public string Name => SourceName;

    public IReadOnlyCollection<string> GetServiceNames() => watcher.Current.Instances.Keys;

    public bool TryGetEndpoints(string serviceName, MeshServiceOptions service, out IReadOnlyList<MeshEndpoint> endpoints)
    {
        if (!watcher.IsConfigured)
        {
            endpoints = [];
            return false;
        }

        endpoints = watcher.Current.Instances.TryGetValue(serviceName, out var found) ? found : [];
        return true;
    }

    // A snapshot reloads the options, which rebuilds the catalog with policies and instances together.
    public IChangeToken GetChangeToken() => NeverChangeToken.Instance;
}
