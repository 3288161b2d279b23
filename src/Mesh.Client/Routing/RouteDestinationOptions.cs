namespace Mesh.Routing;

/// <summary>Where a share of a route's requests goes: the service's endpoints that carry every one of <see cref="Labels"/>.</summary>
public sealed class RouteDestinationOptions
{
    /// <summary>Gets the labels an endpoint must have, such as <c>version=v2</c>.</summary>
    /// <value>Empty by default: every endpoint of the service.</value>
    public IDictionary<string, string> Labels { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets this destination's share of the route's requests, relative to the others of the route.</summary>
    /// <value>1 by default; 0 to 10000; 0 drains the destination.</value>
    public int Weight { get; set; } = 1;
}
