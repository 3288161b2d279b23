using Mesh.Concrete;
using Mesh.Routing;
using Polly;

namespace Mesh.Logical;

/// <summary>
/// What one route does to its calls beside picking where they go, built once per snapshot: its retry over the service
/// breaker (<see langword="null"/> for the service's), its header changes, and its faults in front of each destination.
/// </summary>
internal sealed class RoutePolicy(ResiliencePipeline<HttpResponseMessage>? pipeline, RequestHeaderChanges? headers, IAttemptTarget[]? targets)
{
    /// <summary>Gets the route's retry over the service breaker, or <see langword="null"/> for the service's pipeline.</summary>
    public ResiliencePipeline<HttpResponseMessage>? Pipeline => pipeline;

    /// <summary>Gets the route's header changes, or <see langword="null"/> for none.</summary>
    public RequestHeaderChanges? Headers => headers;

    /// <summary>The target of the route's attempts to subset <paramref name="index"/>: its faults in front, when it has any.</summary>
    public IAttemptTarget Target(IReadOnlyList<Destination> subsets, int index) => targets?[index] ?? subsets[index];
}
