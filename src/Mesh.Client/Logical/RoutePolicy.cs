using Mesh.Concrete;
using Mesh.Endpoint;
using Mesh.Resilience;
using Mesh.Routing;
using Polly;

namespace Mesh.Logical;

/// <summary>
/// What one route does to its calls beside picking where they go, built once per snapshot: its name, its retry over
/// the service breaker (<see langword="null"/> for the service's), its header changes, and one attempt target per
/// destination, with the route's faults in front when it has any. The call carries the target it was routed to, so a
/// call no route takes pays for none of this.
/// </summary>
internal sealed class RoutePolicy
{
    private readonly RouteFault? _fault;
    private Target[] _targets;

    public RoutePolicy(string name, CallPipeline? pipeline, RequestHeaderChanges? headers, RouteFault? fault, Destination[] subsets)
    {
        Name = name;
        Pipeline = pipeline;
        Headers = headers;
        _fault = fault;
        _targets = TargetsOver(subsets);
    }

    /// <summary>Gets the route's name (<c>#index</c> when it has none), for spans and metrics.</summary>
    public string Name { get; }

    /// <summary>Gets the route's retry over the service breaker, or <see langword="null"/> for the service's pipeline.</summary>
    public CallPipeline? Pipeline { get; }

    /// <summary>Gets the route's header changes, or <see langword="null"/> for none.</summary>
    public RequestHeaderChanges? Headers { get; }

    /// <summary>The target of the route's attempts to subset <paramref name="index"/>.</summary>
    public Target TargetOf(int index) => _targets[index];

    /// <summary>
    /// Aims the targets again at <paramref name="subsets"/>, once the service's destinations that name other services
    /// point at theirs; done before the snapshot is published.
    /// </summary>
    public void Bind(Destination[] subsets) => _targets = TargetsOver(subsets);

    private Target[] TargetsOver(Destination[] subsets)
    {
        var targets = new Target[subsets.Length];
        for (var i = 0; i < targets.Length; i++)
        {
            targets[i] = new Target(this, _fault is null ? subsets[i] : _fault.Over(subsets[i]), i);
        }

        return targets;
    }

    /// <summary>The attempts of one route's calls to one destination: they know their route and the subset's index.</summary>
    internal sealed class Target(RoutePolicy route, IAttemptTarget inner, int subset) : IAttemptTarget
    {
        public RoutePolicy Route => route;

        public int Subset => subset;

        public ValueTask<Outcome<HttpResponseMessage>> SendAsync(HttpRequestMessage request, MeshCall call, ITransport transport, CancellationToken cancellationToken) =>
            inner.SendAsync(request, call, transport, cancellationToken);
    }
}
