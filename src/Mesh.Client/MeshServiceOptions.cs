using Mesh.Authorization;
using Mesh.Balancing;
using Mesh.CircuitBreaking;
using Mesh.Discovery;
using Mesh.Hedging;
using Mesh.Identity;
using Mesh.Outliers;
using Mesh.RateLimiting;
using Mesh.Retry;
using Mesh.Routing;

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

    /// <summary>Gets where the service's endpoints come from when not from <see cref="Endpoints"/>: DNS, etcd or the control plane.</summary>
    /// <value>No source by default: see <see cref="ServiceDiscoveryOptions.Source"/> for the rule.</value>
    public ServiceDiscoveryOptions Discovery { get; } = new();

    /// <summary>Gets or sets the name of the load balancer that picks an endpoint for each request.</summary>
    /// <value>
    /// <see cref="LoadBalancerNames.PeakEwma"/> by default. One of the names in <see cref="LoadBalancerNames"/>
    /// (case-insensitive); an unknown name is refused by validation.
    /// </value>
    public string LoadBalancer { get; set; } = LoadBalancerNames.PeakEwma;

    /// <summary>Gets the options of the <see cref="LoadBalancerNames.RingHash"/> balancer.</summary>
    /// <value>Used only when <see cref="LoadBalancer"/> is <see cref="LoadBalancerNames.RingHash"/>.</value>
    public RingHashOptions RingHash { get; } = new();

    /// <summary>Gets how a caller with a zone (<c>Mesh:Zone</c>) prefers the endpoints of its own zone; the rule is stated on <see cref="ZoneAwareOptions"/>.</summary>
    /// <value>On by default, with <see cref="ZoneAwareOptions.MinHealthyPercent"/> 70.</value>
    public ZoneAwareOptions ZoneAware { get; } = new();

    /// <summary>
    /// Gets or sets the most time one call may take, every attempt, backoff and hedge included. When the call is made
    /// within a <see cref="Resilience.MeshDeadline"/> scope (such as an inbound request's deadline), the sooner of the two applies.
    /// </summary>
    /// <value>10 seconds by default; more than 0 and at most 1 day.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the most time one attempt may take before it is abandoned (and retried, as a 504 would be).</summary>
    /// <value><see langword="null"/> by default: an attempt is bounded by <see cref="Timeout"/> only.</value>
    public TimeSpan? AttemptTimeout { get; set; }

    /// <summary>Gets the retry settings.</summary>
    public RetryOptions Retry { get; } = new();

    /// <summary>Gets the settings that eject failing endpoints.</summary>
    public OutlierDetectionOptions OutlierDetection { get; } = new();

    /// <summary>Gets the settings of the service's circuit breaker.</summary>
    public CircuitBreakerOptions CircuitBreaker { get; } = new();

    /// <summary>Gets or sets the hedging settings.</summary>
    /// <value><see langword="null"/> by default: no hedging.</value>
    public HedgingOptions? Hedging { get; set; }

    /// <summary>Gets how this service's servers take connections when workloads have an identity, and so how clients reach it.</summary>
    /// <value>No mode by default: the mesh-wide <c>Mesh:Mtls:Mode</c> applies (<c>Permissive</c> unless set); see <see cref="MtlsOptions"/>.</value>
    public MtlsOptions Mtls { get; } = new();

    /// <summary>Gets who may call this service, as its own server enforces it; ignored for other services.</summary>
    /// <value>No rules by default: the mesh's default (<c>allow</c>) applies; see <see cref="AuthorizationOptions"/>.</value>
    public AuthorizationOptions Authorization { get; } = new();

    /// <summary>
    /// Gets the service's routes: which requests go to which subsets of its endpoints, by weight. The first route in
    /// precedence order that matches a request takes it; a request no route matches goes to every endpoint.
    /// </summary>
    /// <value>Empty by default: every call goes to every endpoint; at most 64.</value>
    public IList<RouteOptions> Routes { get; } = new List<RouteOptions>();

    /// <summary>Gets or sets the client-side rate limit.</summary>
    /// <value><see langword="null"/> by default: no limit.</value>
    public RateLimitOptions? RateLimit { get; set; }
}
