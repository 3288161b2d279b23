namespace Mesh.Discovery.Dns;

/// <summary>What is looked up for one service: SRV records of a name, or its A and AAAA records with a port.</summary>
/// <param name="Name">The name asked, without a trailing dot.</param>
/// <param name="Port">The port of A/AAAA endpoints; <see langword="null"/> for an SRV lookup.</param>
/// <param name="Scheme">The scheme of the addresses made.</param>
internal sealed record DnsQuery(string Name, int? Port, string Scheme)
{
    /// <summary>The SRV prefix put before a name that has none.</summary>
    public const string DefaultSrvPrefix = "_http._tcp.";

    /// <summary>Gets whether the query asks for SRV records.</summary>
    public bool IsSrv => Port is null;

    /// <summary>The query a service's options ask for.</summary>
    public static DnsQuery For(string serviceName, ServiceDiscoveryOptions options)
    {
        var name = (options.Name ?? serviceName).TrimEnd('.').ToLowerInvariant();
        if (options.Port is null && !name.StartsWith('_'))
        {
            name = DefaultSrvPrefix + name;
        }

        return new DnsQuery(name, options.Port, options.Scheme.ToLowerInvariant());
    }

    /// <inheritdoc />
    public override string ToString() => IsSrv ? $"SRV {Name}" : $"A/AAAA {Name} port {Port}";
}
