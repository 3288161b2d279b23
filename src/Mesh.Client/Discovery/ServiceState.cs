using Mesh.Balancing;

namespace Mesh.Discovery;

/// <summary>One service as the request path sees it: its options, its endpoints and its balancer. Immutable.</summary>
internal sealed class ServiceState(string name, MeshServiceOptions options, EndpointState[] endpoints, EndpointState[] routable, ILoadBalancer balancer)
{
    public string Name { get; } = name;

    public MeshServiceOptions Options { get; } = options;

    /// <summary>Gets every endpoint, drained ones (weight 0) included.</summary>
    public EndpointState[] Endpoints { get; } = endpoints;

    /// <summary>Gets the endpoints that may receive traffic; never empty.</summary>
    public EndpointState[] Routable { get; } = routable;

    public ILoadBalancer Balancer { get; } = balancer;
}
