namespace Mesh.Discovery;

/// <summary>
/// Settings of the <c>dns</c> source, bound from <c>Mesh:Discovery:Dns</c> and read once, at start. A service's records
/// are looked up again when their time to live ends, within <see cref="MinRefresh"/> and <see cref="MaxRefresh"/>. A
/// lookup that fails (a timeout, <c>SERVFAIL</c>, <c>REFUSED</c>, an answer that cannot be read) keeps the last good
/// endpoints; an authoritative answer that the name has no records (<c>NXDOMAIN</c>, or no data) empties the set.
/// </summary>
public sealed class DnsDiscoveryOptions
{
    /// <summary>Gets or sets the DNS server to ask, as <c>host:port</c> or an IP address (port 53), such as <c>10.96.0.10</c> or <c>127.0.0.1:5353</c>.</summary>
    /// <value><see langword="null"/> by default: the servers of the system's resolver configuration.</value>
    public string? Server { get; set; }

    /// <summary>Gets or sets the shortest time between two lookups of one name, however short the records' time to live.</summary>
    /// <value>1 second by default; at least 100 ms, at most <see cref="MaxRefresh"/>.</value>
    public TimeSpan MinRefresh { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the longest time between two lookups of one name, however long the records' time to live.</summary>
    /// <value>60 seconds by default; at most 1 day.</value>
    public TimeSpan MaxRefresh { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Gets or sets how long one query waits for an answer.</summary>
    /// <value>2 seconds by default; 100 ms to 30 seconds.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);
}
