using Mesh.Configuration;

namespace Mesh.Discovery;

/// <summary>
/// Finds the services of the mesh and the endpoints of each: those the options name, and those a source introduces;
/// the first source (in registration order) that knows a service supplies all of its endpoints. This process's own
/// service (<c>Mesh:ServiceName</c>) may have no endpoints when no source knows it, so <c>Mesh:Services:{self}</c> can hold
/// the service's own server policy (its <c>Mtls:Mode</c>) alone; calls to it then fail as to a service with no instance.
/// </summary>
internal static class EndpointDiscovery
{
    /// <summary>The source named for this process's own service when no source knows it.</summary>
    internal const string OwnServiceSource = "Mesh:ServiceName";

    /// <summary>Discovers every service; adds to <paramref name="errors"/> what makes a service unusable, naming its configuration path.</summary>
    public static List<DiscoveredService> Discover(MeshOptions options, IReadOnlyList<IEndpointSource> sources, List<string> errors)
    {
        var names = new List<string>(options.Services.Keys);
        var seen = new HashSet<string>(names, StringComparer.OrdinalIgnoreCase);
        foreach (var source in sources)
        {
            foreach (var name in source.GetServiceNames())
            {
                if (!MeshOptionsValidator.IsServiceName(name))
                {
                    errors.Add($"{MeshOptionsValidator.Section}:Services: '{name}', introduced by endpoint source '{source.Name}', is not a valid service name (letters, digits, '-' and '.', as in a host name).");
                }
                else if (seen.Add(name))
                {
                    names.Add(name);
                }
            }
        }

        var services = new List<DiscoveredService>(names.Count);
        foreach (var name in names)
        {
            var serviceOptions = options.Services.TryGetValue(name, out var configured) ? configured : new MeshServiceOptions();
            if (Find(name, serviceOptions, Selected(options.Discovery, serviceOptions, sources), errors, own: string.Equals(name, options.ServiceName, StringComparison.OrdinalIgnoreCase)) is { } service)
            {
                services.Add(service);
            }
        }

        return services;
    }

    /// <summary>
    /// The sources that may answer for a service: the one its selection names (its own <c>Discovery:Source</c>, or
    /// <c>config</c> when it lists endpoints, or the mesh-wide <c>Mesh:Discovery:Source</c>), or else every source in
    /// order but those that answer only when selected (dns, etcd).
    /// </summary>
    private static IReadOnlyList<IEndpointSource> Selected(MeshDiscoveryOptions mesh, MeshServiceOptions service, IReadOnlyList<IEndpointSource> sources)
    {
        if (DiscoveryOptionsValidator.EffectiveSource(mesh, service) is not { } selected)
        {
            return [.. sources.Where(s => !DiscoverySources.IsSelectedOnly(s.Name))];
        }

        var sourceName = DiscoverySources.EndpointSourceName(selected);
        return [.. sources.Where(s => string.Equals(s.Name, sourceName, StringComparison.OrdinalIgnoreCase))];
    }

    private static DiscoveredService? Find(string name, MeshServiceOptions options, IReadOnlyList<IEndpointSource> sources, List<string> errors, bool own)
    {
        var path = $"{MeshOptionsValidator.Section}:Services:{name}:Endpoints";
        foreach (var source in sources)
        {
            if (!source.TryGetEndpoints(name, options, out var endpoints))
            {
                continue;
            }

            if (endpoints.Count > 0 && endpoints.All(e => e.Weight == 0))
            {
                errors.Add($"{path}: every endpoint of service '{name}' has weight 0, so none could receive traffic.");
                return null;
            }

            return new DiscoveredService(name, options, endpoints, source.Name);
        }

        if (own)
        {
            return new DiscoveredService(name, options, [], OwnServiceSource);
        }

        errors.Add($"{path}: service '{name}' has no endpoints (none configured, and no endpoint source knows it).");
        return null;
    }
}
