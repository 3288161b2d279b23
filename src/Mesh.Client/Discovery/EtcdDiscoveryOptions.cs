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

    /// <summary>
    /// Gets or sets a PEM file of the certificate authorities etcd's certificate must chain to, over <c>https</c>
    /// endpoints; only those are trusted then.
    /// </summary>
    /// <value><see langword="null"/> by default: the system's roots.</value>
    public string? CaFile { get; set; }

    /// <summary>Gets or sets a PEM file of the client certificate presented to an etcd that asks for one (<c>--client-cert-auth</c>); with <see cref="ClientKeyFile"/>.</summary>
    /// <value><see langword="null"/> by default: none.</value>
    public string? ClientCertificateFile { get; set; }

    /// <summary>Gets or sets the PEM file of <see cref="ClientCertificateFile"/>'s private key.</summary>
    /// <value><see langword="null"/> by default.</value>
    public string? ClientKeyFile { get; set; }

    /// <summary>
    /// Gets or sets the etcd user to sign in as, on an etcd with authentication on; with <see cref="Password"/>. The
    /// source signs in again when etcd drops its token.
    /// </summary>
    /// <value><see langword="null"/> by default: no sign-in.</value>
    public string? Username { get; set; }

    /// <summary>
    /// Gets or sets the password of <see cref="Username"/>. It is sent only to the configured endpoints, over <c>https</c>
    /// or to a loopback address, and never logged.
    /// </summary>
    /// <value><see langword="null"/> by default.</value>
    public string? Password { get; set; }
}
