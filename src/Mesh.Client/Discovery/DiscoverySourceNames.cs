namespace Mesh.Discovery;

/// <summary>
/// The names of the endpoint sources a service can be told to take its endpoints from, as written in
/// <c>Mesh:Services:{name}:Discovery:Source</c> and <c>Mesh:Discovery:Source</c>.
/// </summary>
public static class DiscoverySourceNames
{
    /// <summary>The endpoints written under <c>Mesh:Services:{name}:Endpoints</c>.</summary>
    public const string Config = "config";

    /// <summary>The instances registered with the control plane (<c>meshd</c>); needs <c>Mesh:ControlPlane:Address</c>.</summary>
    public const string Meshd = "meshd";

    /// <summary>DNS: SRV records, or A and AAAA records with a configured port; see <see cref="DnsDiscoveryOptions"/>.</summary>
    public const string Dns = "dns";

    /// <summary>Keys under a prefix of an etcd cluster; see <see cref="EtcdDiscoveryOptions"/>.</summary>
    public const string Etcd = "etcd";

    /// <summary>The passing instances of a service in Consul's catalog; see <see cref="ConsulDiscoveryOptions"/>.</summary>
    public const string Consul = "consul";

    /// <summary>Kubernetes EndpointSlices of a service; see <see cref="KubernetesDiscoveryOptions"/>.</summary>
    public const string Kubernetes = "kubernetes";

    /// <summary>Gets every known name.</summary>
    public static IReadOnlyList<string> All { get; } = [Config, Meshd, Dns, Etcd, Consul, Kubernetes];

    /// <summary>Whether <paramref name="name"/> is a known name, ignoring case.</summary>
    internal static bool IsKnown(string? name) => name is not null && All.Contains(name, StringComparer.OrdinalIgnoreCase);
}
