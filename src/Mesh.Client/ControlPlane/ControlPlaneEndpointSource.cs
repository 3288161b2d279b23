using Mesh.Discovery;
using Microsoft.Extensions.Primitives;

namespace Mesh.ControlPlane;

/// <summary>
/// The instances registered with the control plane. Asked after static configuration, so a service with local
/// <c>Endpoints</c> keeps them. With a control plane configured it answers for every service, with no endpoints when
/// none is registered yet, and requests to that service then fail with <see cref="MeshEndpointUnavailableException"/>.
/// </summary>
internal sealed class ControlPlaneEndpointSource : IEndpointSource
{
    public const string SourceName = "ControlPlane";

    private readonly ControlPlaneClient _client;

    public ControlPlaneEndpointSource(ControlPlaneClient client)
    {
        _client = client;

        // Built with the catalog, before its first snapshot: the cached snapshot is in force from the first request.
        _client.Start();
    }

    public string Name => SourceName;

    public bool TryGetEndpoints(string serviceName, MeshServiceOptions service, out IReadOnlyList<MeshEndpoint> endpoints)
    {
        if (!_client.IsEnabled || service.Endpoints.Count > 0)
        {
            endpoints = [];
            return false;
        }

        endpoints = _client.Current.Instances.TryGetValue(serviceName, out var found) ? found : [];
        return true;
    }

    // A snapshot reloads the options, which rebuilds the catalog with policies and instances together.
    public IChangeToken GetChangeToken() => NeverChangeToken.Instance;
}
