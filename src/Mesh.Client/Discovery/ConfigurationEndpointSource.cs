using Mesh.Configuration;
using Mesh.Identity;
using Mesh.Utilities;
using Microsoft.Extensions.Primitives;

namespace Mesh.Discovery;

/// <summary>Endpoints written in <c>Mesh:Services:{name}:Endpoints</c>; it changes when the options reload.</summary>
internal sealed class ConfigurationEndpointSource : IEndpointSource
{
    public const string SourceName = DiscoverySources.Configuration;

    public string Name => SourceName;

    public bool TryGetEndpoints(string serviceName, MeshServiceOptions service, out IReadOnlyList<MeshEndpoint> endpoints)
    {
        if (service.Endpoints.Count == 0)
        {
            endpoints = [];
            return false;
        }

        var list = new MeshEndpoint[service.Endpoints.Count];
        for (var i = 0; i < list.Length; i++)
        {
            var options = service.Endpoints[i];
            var address = EndpointAddress.TryParse(options.Address, out var problem)
                ?? throw new InvalidOperationException($"Mesh:Services:{serviceName}:Endpoints:{i}:Address '{options.Address}' {problem}.");
            list[i] = new MeshEndpoint(address, options.Zone, options.Weight, options.Labels, options.Identity is { } identity ? SpiffeId.Parse(identity) : null);
        }

        endpoints = list;
        return true;
    }

    // The catalog rebuilds on every options reload, which is when these endpoints change.
    public IChangeToken GetChangeToken() => NeverChangeToken.Instance;
}
