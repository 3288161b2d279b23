namespace Mesh.Discovery;

/// <summary>The mesh-wide discovery settings, bound from <c>Mesh:Discovery</c>: the default source and each source's settings.</summary>
public sealed class MeshDiscoveryOptions
{
    /// <summary>Gets or sets the source of every service that names none in <c>Discovery:Source</c> and has no <c>Endpoints</c>.</summary>
    /// <value><see langword="null"/> by default: configured endpoints, then the control plane's. One of <see cref="DiscoverySourceNames"/>.</value>
    public string? Source { get; set; }

    /// <summary>Gets the settings of the <c>dns</c> source.</summary>
    public DnsDiscoveryOptions Dns { get; } = new();

    /// <summary>Gets the settings of the <c>etcd</c> source.</summary>
    public EtcdDiscoveryOptions Etcd { get; } = new();

    /// <summary>Gets the settings of the <c>consul</c> source.</summary>
    public ConsulDiscoveryOptions Consul { get; } = new();

    /// <summary>Gets the settings of the <c>kubernetes</c> source.</summary>
    public KubernetesDiscoveryOptions Kubernetes { get; } = new();
}
