namespace Mesh.Discovery;

/// <summary>
/// Settings of the <c>etcd</c> source, bound from <c>Mesh:Discovery:Etcd</c> and read once, at start. Each instance is a key
/// <c>{Prefix}/{service}/{instance}</c> whose value is the endpoint as JSON:
/// <c>{"address":"http://10.0.0.5:8080","zone":"a","weight":1,"labels":{"version":"v2"}}</c>.
/// </summary>
public sealed class EtcdDiscoveryOptions
{
    /// <summary>Gets the client URLs of the etcd cluster, such as <c>http://127.0.0.1:2379</c>; tried in turn.</summary>
    /// <value>Empty by default; required when a service uses the <c>etcd</c> source.</value>
    public IList<string> Endpoints { get; } = new List<string>();

    /// <summary>Gets or sets the key prefix under which services are kept; it starts with <c>/</c> and does not end with one.</summary>
    /// <value><c>/services</c> by default.</value>
    public string Prefix { get; set; } = "/services";
}
