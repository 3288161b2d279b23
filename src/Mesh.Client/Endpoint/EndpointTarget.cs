using Mesh.Balancing;
using Mesh.Discovery;
using Mesh.Outliers;

namespace Mesh.Endpoint;

/// <summary>
/// One endpoint of a service as an attempt needs it: where it is, its load (whose lease teaches the balancer) and its
/// ejection state (which outlier detection judges).
/// </summary>
internal sealed class EndpointTarget(MeshEndpoint endpoint, EndpointLoad load, EjectionState ejection)
{
    public MeshEndpoint Endpoint { get; } = endpoint;

    public EndpointLoad Load { get; } = load;

    public EjectionState Ejection { get; } = ejection;

    /// <summary>Gets <c>scheme://host:port</c>, ready to prefix a path.</summary>
    public string Authority => Load.Authority;

    public override string ToString() => Authority;
}
