namespace Mesh.Discovery;

/// <summary>
/// The registry of selectable sources: each name of <see cref="DiscoverySourceNames"/> and the
/// <see cref="IEndpointSource.Name"/> of the source that answers for it. A new source adds its name there, a line here
/// (and in the selected-only set, if it must not answer for services that do not name it), and its registration in
/// <c>AddMesh()</c>.
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
        [DiscoverySourceNames.Consul] = DiscoverySourceNames.Consul,
        [DiscoverySourceNames.Kubernetes] = DiscoverySourceNames.Kubernetes,
    };

    // Sources asked only for the services that select them, never in the default order.
    private static readonly HashSet<string> s_selectedOnly = new(StringComparer.OrdinalIgnoreCase)
    {
        DiscoverySourceNames.Dns,
        DiscoverySourceNames.Etcd,
        DiscoverySourceNames.Consul,
        DiscoverySourceNames.Kubernetes,
    };

    /// <summary>Whether the source named <paramref name="sourceName"/> answers only for services that select it.</summary>
    public static bool IsSelectedOnly(string sourceName) => s_selectedOnly.Contains(sourceName);

    /// <summary>The name of the endpoint source that answers for the selection <paramref name="selected"/>.</summary>
    public static string EndpointSourceName(string selected) => s_sources.TryGetValue(selected, out var name) ? name : selected;
}
