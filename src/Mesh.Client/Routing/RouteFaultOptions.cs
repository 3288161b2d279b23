namespace Mesh.Routing;

/// <summary>
/// Faults a route injects into its own requests, to test how callers and the mesh's resilience cope: bound from
/// <c>Mesh:Services:{name}:Routes:{i}:Fault</c>, off unless set. Each attempt draws on its own: a share of attempts
/// waits before it is sent (<see cref="Delay"/>) and a share is answered at once, unsent, with a chosen status
/// (<see cref="Abort"/>). The faults apply inside the retry and breaker strategies, so a retry and the breaker see an
/// injected abort as they would see the same answer from a server.
/// </summary>
public sealed class RouteFaultOptions
{
    /// <summary>Gets or sets the delay injected before a share of the route's attempts.</summary>
    /// <value><see langword="null"/> by default: no delay.</value>
    public RouteFaultDelayOptions? Delay { get; set; }

    /// <summary>Gets or sets the abort injected in place of a share of the route's attempts.</summary>
    /// <value><see langword="null"/> by default: no abort.</value>
    public RouteFaultAbortOptions? Abort { get; set; }
}
