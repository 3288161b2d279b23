using Mesh.Balancing;
using Mesh.Discovery;

namespace Mesh;

/// <summary>
/// Options of one logical service: where its instances are and how requests are spread over them.
/// Bound from <c>Mesh:Services:{name}</c>.
/// </summary>
public sealed class MeshServiceOptions
{
    /// <summary>
    /// Gets the statically configured endpoints of the service. In configuration each entry is either
    /// an address string (<c>"http://127.0.0.1:5001"</c>) or an object with <c>Address</c>, <c>Zone</c>,
    /// <c>Weight</c> and <c>Labels</c>.
    /// </summary>
    /// <value>Empty by default; a service must get at least one endpoint from here or from another endpoint source.</value>
    public IList<MeshEndpointOptions> Endpoints { get; } = new List<MeshEndpointOptions>();

    /// <summary>Gets or sets the name of the load balancer that picks an endpoint for each request.</summary>
    /// <value>
    /// <see cref="LoadBalancerNames.PeakEwma"/> by default. One of the names in <see cref="LoadBalancerNames"/>
    /// (case-insensitive); an unknown name is refused by validation.
    /// </value>
    public string LoadBalancer { get; set; } = LoadBalancerNames.PeakEwma;

    /// <summary>Gets the options of the <see cref="LoadBalancerNames.RingHash"/> balancer.</summary>
    /// <value>Used only when <see cref="LoadBalancer"/> is <see cref="LoadBalancerNames.RingHash"/>.</value>
    public RingHashOptions RingHash { get; } = new();
}
