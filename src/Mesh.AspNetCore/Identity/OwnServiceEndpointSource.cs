using Mesh.Discovery;
using Mesh.Utilities;
using Microsoft.Extensions.Primitives;

namespace Mesh.AspNetCore.Identity;

/// <summary>
/// Knows this server's own service, with no endpoints, after every other source: so <c>Mesh:Services:{Mesh:ServiceName}</c>
/// may hold only the server's own policy (its <c>Mtls:Mode</c>) without the mesh refusing it as a destination with no
/// endpoints. A source that knows the service's instances (configuration, meshd) still answers first.
/// </summary>
internal sealed class OwnServiceEndpointSource(ServerIdentity identity) : IEndpointSource
{
    public string Name => "Server";

    public bool TryGetEndpoints(string serviceName, MeshServiceOptions service, out IReadOnlyList<MeshEndpoint> endpoints)
    {
        endpoints = [];
        return string.Equals(serviceName, identity.ServiceName, StringComparison.OrdinalIgnoreCase);
    }

    public IChangeToken GetChangeToken() => NeverChangeToken.Instance;
}
