namespace Mesh.Routing;

/// <summary>The conditions of a route; a request takes the route when it meets every condition set.</summary>
public sealed class RouteMatchOptions
{
    /// <summary>Gets the condition on the request's path.</summary>
    /// <value>No condition by default (ranked as the prefix <c>/</c>).</value>
    public RoutePathMatchOptions Path { get; } = new();

    /// <summary>Gets or sets the HTTP method the request must have, such as <c>GET</c>.</summary>
    /// <value><see langword="null"/> by default: any method.</value>
    public string? Method { get; set; }

    /// <summary>Gets the conditions on request headers, all of which must hold.</summary>
    /// <value>Empty by default; at most 16.</value>
    public IList<RouteValueMatchOptions> Headers { get; } = new List<RouteValueMatchOptions>();

    /// <summary>Gets the conditions on query parameters, all of which must hold.</summary>
    /// <value>Empty by default; at most 16.</value>
    public IList<RouteValueMatchOptions> QueryParameters { get; } = new List<RouteValueMatchOptions>();
}
