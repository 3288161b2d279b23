namespace Mesh.Discovery;

/// <summary>
/// The registry of selectable sources: each name of <see cref="DiscoverySourceNames"/> and the
/// <see cref="IEndpointSource.Name"/> of the source that answers for it. A new source adds its name there, a line here,
/// and its registration in <c>AddMesh()</c>.
/// </summary>
internal static class DiscoverySources
{
    /// <summary>The <see cref="IEndpointSource.Name"/> of the static configuration's source.</summary>
    internal const string Configuration = "Configuration";

    /// <summary>The <see cref="IEndpointSource.Name"/> of the control plane's source.</summary>
    internal const string ControlPlane = "ControlPlane";

    private static readonly Dictionary<string, string> s_sources = new(StringComparer.OrdinalIgnoreCase)
    {
        [DiscoverySourceNames.Config] = Configuration,
        [DiscoverySourceNames.Meshd] = ControlPlane,
        [DiscoverySourceNames.Dns] = DiscoverySourceNames.Dns,
        [DiscoverySourceNames.Etcd] = DiscoverySourceNames.Etcd,
    };

    /// <summary>The name of the endpoint source that answers for the selection <paramref name="selected"/>.</summary>
    public static string EndpointSourceName(string selected) => s_sources.TryGetValue(selected, out var name) ? name : selected;
}
