namespace Mesh.Routing;

/// <summary>
/// Where a share of a route's requests goes: the endpoints that carry every one of <see cref="Labels"/>, of this service
/// or of the other service <see cref="Service"/> names.
/// </summary>
public sealed class RouteDestinationOptions
{
    /// <summary>Gets the labels an endpoint must have, such as <c>version=v2</c>.</summary>
    /// <value>Empty by default: every endpoint of the service.</value>
    public IDictionary<string, string> Labels { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets this destination's share of the route's requests, relative to the others of the route.</summary>
    /// <value>1 by default; 0 to 10000; 0 drains the destination.</value>
    public int Weight { get; set; } = 1;

    /// <summary>
    /// Gets or sets another service of the mesh that receives this destination's requests, with their path and query
    /// unchanged: its endpoints (those with <see cref="Labels"/>), its resilience and its mutual TLS mode, never its own
    /// routes (one hop). A service the mesh does not know fails the requests drawn for it at once.
    /// </summary>
    /// <value><see langword="null"/> by default: this service's own endpoints.</value>
    public string? Service { get; set; }
}
