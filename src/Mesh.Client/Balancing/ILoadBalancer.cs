namespace Mesh.Balancing;

/// <summary>Picks an endpoint for a request from one immutable endpoint set. Picks are lock-free and allocation-free.</summary>
internal interface ILoadBalancer
{
    /// <summary>Picks one of the set's endpoints.</summary>
    EndpointState Pick(HttpRequestMessage request);
}
