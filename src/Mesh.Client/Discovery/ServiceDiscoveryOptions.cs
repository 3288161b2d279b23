namespace Mesh.Discovery;

/// <summary>
/// Where one service's endpoints come from, bound from <c>Mesh:Services:{name}:Discovery</c>, such as
/// <c>{ "Source": "dns", "Name": "inventory.prod.svc.cluster.local", "Port": 8080 }</c>.
/// </summary>
public sealed class ServiceDiscoveryOptions
{
    /// <summary>Gets or sets the source of the service's endpoints: one of <see cref="DiscoverySourceNames"/>.</summary>
    /// <value>
    /// <see langword="null"/> by default: a service with <c>Endpoints</c> uses them, any other the mesh-wide
    /// <c>Mesh:Discovery:Source</c>, and without that the configured endpoints, then the control plane's.
    /// </value>
    public string? Source { get; set; }

    /// <summary>
    /// Gets or sets the name the source knows the service by. For <c>dns</c>, the name looked up: with
    /// <see cref="Port"/>, its A and AAAA records; without, its SRV records, at <c>_http._tcp.{Name}</c> unless the
    /// name starts with <c>_</c> (then it is looked up as written, such as <c>_grpc._tcp.inventory.prod</c>). For
    /// <c>etcd</c>, the key segment after the prefix. For <c>consul</c>, the name of the service in Consul's catalog.
    /// </summary>
    /// <value><see langword="null"/> by default: the service's own name.</value>
    public string? Name { get; set; }

    /// <summary>Gets or sets the port of the service's endpoints; for <c>dns</c>, set it to use A and AAAA records instead of SRV.</summary>
    /// <value><see langword="null"/> by default; 1 to 65535 when set.</value>
    public int? Port { get; set; }

    /// <summary>
    /// Gets or sets the name of the port of the service's endpoints, for <c>kubernetes</c>: the EndpointSlice port of that
    /// name (such as <c>http</c> or <c>grpc</c>). Without it, the port numbered <see cref="Port"/>, or a slice's only port.
    /// </summary>
    /// <value><see langword="null"/> by default; a port name (1 to 15 lower-case letters, digits and '-') when set.</value>
    public string? PortName { get; set; }

    /// <summary>Gets or sets the namespace of the service, for <c>kubernetes</c>.</summary>
    /// <value><see langword="null"/> by default: <c>Mesh:Discovery:Kubernetes:Namespace</c>.</value>
    public string? Namespace { get; set; }

    /// <summary>Gets or sets the scheme of the addresses a <c>dns</c> source makes: <c>http</c> or <c>https</c>.</summary>
    /// <value><c>http</c> by default.</value>
    public string Scheme { get; set; } = "http";

    /// <summary>Gets or sets the tag a <c>consul</c> source asks for: only the instances carrying it are the service's endpoints.</summary>
    /// <value><see langword="null"/> by default: every passing instance; at most 256 printable characters when set.</value>
    public string? Tag { get; set; }
}
