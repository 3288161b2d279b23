namespace Mesh.Discovery;

/// <summary>
/// Settings of the <c>consul</c> source, bound from <c>Mesh:Discovery:Consul</c> and read once, at start. Each service
/// that uses the source is watched with a blocking query on Consul's health endpoint
/// (<c>/v1/health/service/{name}?passing=true</c>): the query waits up to <see cref="Wait"/> for the catalog to change,
/// so a quiet catalog costs one query per <see cref="Wait"/>. A failed query keeps the last good endpoints.
/// </summary>
public sealed class ConsulDiscoveryOptions
{
    /// <summary>Gets or sets the address of the Consul agent's HTTP API, such as <c>http://127.0.0.1:8500</c>.</summary>
    /// <value><c>http://127.0.0.1:8500</c> by default (the local agent); an absolute http or https URI without path.</value>
    public string Address { get; set; } = "http://127.0.0.1:8500";

    /// <summary>Gets or sets the datacenter asked (<c>dc</c>).</summary>
    /// <value><see langword="null"/> by default: the agent's own.</value>
    public string? Datacenter { get; set; }

    /// <summary>Gets or sets the ACL token sent in the <c>X-Consul-Token</c> header; it never appears in a URL or a log.</summary>
    /// <value><see langword="null"/> by default: no token.</value>
    public string? Token { get; set; }

    /// <summary>Gets or sets the longest time a blocking query waits for a change before Consul answers with what it has.</summary>
    /// <value>30 seconds by default; whole seconds, 1 second to 10 minutes.</value>
    public TimeSpan Wait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets the shortest time between two queries of one service when the first answered without waiting and
    /// without a change (so a Consul that does not block is not asked in a loop); also the first back-off after a failure.
    /// </summary>
    /// <value>1 second by default; 10 ms to 1 minute.</value>
    public TimeSpan MinInterval { get; set; } = TimeSpan.FromSeconds(1);
}
