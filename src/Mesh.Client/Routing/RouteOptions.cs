using Mesh.Retry;

namespace Mesh.Routing;

/// <summary>
/// One route of a service: which requests it takes (<see cref="Match"/>) and where they go (<see cref="Destinations"/>,
/// picked by weight). Bound from <c>Mesh:Services:{name}:Routes:{i}</c>. Routes are ranked as the Gateway API ranks
/// HTTPRoute matches (exact path, then longer prefix, then method, then more headers, then more query parameters, then
/// list order); the first that matches takes the request, and a request no route matches goes to every endpoint.
/// </summary>
public sealed class RouteOptions
{
    /// <summary>Gets or sets a name for the route, shown in messages.</summary>
    /// <value><see langword="null"/> by default: the route is named by its index.</value>
    public string? Name { get; set; }

    /// <summary>Gets the conditions a request must meet, all of them, to take this route.</summary>
    /// <value>No condition by default: the route takes every request.</value>
    public RouteMatchOptions Match { get; } = new();

    /// <summary>Gets where the route's requests go: subsets of the service's endpoints, each with a weight.</summary>
    /// <value>Empty by default: every endpoint of the service.</value>
    public IList<RouteDestinationOptions> Destinations { get; } = new List<RouteDestinationOptions>();

    /// <summary>Gets or sets the most time one call on this route may take, in place of the service's <c>Timeout</c>.</summary>
    /// <value><see langword="null"/> by default: the service's timeout; more than 0 and at most 1 day.</value>
    public TimeSpan? Timeout { get; set; }

    /// <summary>
    /// Gets or sets how this route's failed attempts are retried, in place of the service's <c>Retry</c>. The retries
    /// draw on the service's retry budget and go through the service's one circuit breaker; <c>Retry:Budget</c> cannot
    /// be set here.
    /// </summary>
    /// <value><see langword="null"/> by default: the service's retry.</value>
    public RetryOptions? Retry { get; set; }

    /// <summary>Gets how the route changes its requests' headers (add, set, remove), once per call before the first attempt.</summary>
    /// <value>No change by default.</value>
    public RouteHeadersOptions RequestHeaders { get; } = new();

    /// <summary>Gets or sets the faults the route injects into a share of its attempts: a delay, an abort with a status.</summary>
    /// <value><see langword="null"/> by default: no fault.</value>
    public RouteFaultOptions? Fault { get; set; }

    /// <summary>Gets or sets where copies of this route's requests go, fire and forget.</summary>
    /// <value><see langword="null"/> by default: no copy is made.</value>
    public RouteMirrorOptions? Mirror { get; set; }
}
