using Microsoft.Extensions.Primitives;

namespace Mesh.Discovery;

/// <summary>
/// A named provider of service endpoints: static configuration, a control plane, a registry or DNS. Sources are
/// registered as <see cref="IEndpointSource"/> services and asked in registration order; the first that knows a
/// service supplies all of its endpoints. A source may also introduce services: those it names in
/// <see cref="GetServiceNames"/> are services of the mesh even when <c>Mesh:Services</c> does not list them.
/// </summary>
/// <remarks>
/// The mesh keeps an immutable snapshot of every service's endpoints and rebuilds it when the token
/// returned by <see cref="GetChangeToken"/> fires, so a source is asked only when something changed,
/// never on the request path. A source that cannot reach its registry should keep answering with its last good
/// endpoints.
/// </remarks>
public interface IEndpointSource
{
    /// <summary>Gets the name of the source, used in logs and error messages.</summary>
    string Name { get; }

    /// <summary>Gets the names of the services this source introduces into the mesh.</summary>
    /// <returns>The names; none by default, so the source only fills services the options name.</returns>
    IReadOnlyCollection<string> GetServiceNames() => [];

    /// <summary>Gets the current endpoints of a service.</summary>
    /// <param name="serviceName">The logical name of the service.</param>
    /// <param name="service">The service's options as configured (the defaults for a service only a source names).</param>
    /// <param name="endpoints">The endpoints, when the source knows the service; possibly none.</param>
    /// <returns><see langword="true"/> when the source knows the service; otherwise <see langword="false"/>.</returns>
    bool TryGetEndpoints(string serviceName, MeshServiceOptions service, out IReadOnlyList<MeshEndpoint> endpoints);

    /// <summary>Gets a token that fires when any endpoint set of this source changes.</summary>
    /// <returns>A change token; a source that never changes returns a token that never fires.</returns>
    IChangeToken GetChangeToken();
}
