namespace Mesh.Discovery.Consul;

/// <summary>What one service asks Consul: the Consul service name and, optionally, a tag.</summary>
internal sealed record ConsulQuery(string Name, string? Tag)
{
    public static ConsulQuery For(string serviceName, ServiceDiscoveryOptions discovery) => new(discovery.Name ?? serviceName, discovery.Tag);
}
