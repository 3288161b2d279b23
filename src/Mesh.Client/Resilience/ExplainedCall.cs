using Mesh.Balancing;
using Mesh.Protocol;

namespace Mesh.Resilience;

/// <summary>A call whose decisions are recorded in an <see cref="Resilience.Explanation"/>; its balancers report their candidates to it.</summary>
internal sealed class ExplainedCall(string service, HttpRequestMessage request, IProtocol protocol, DateTimeOffset deadline, Explanation explanation)
    : MeshCall(service, request, protocol, deadline), IPickTrace
{
    /// <summary>Gets the record of the call's decisions.</summary>
    public new Explanation Explanation => explanation;

    void IPickTrace.Compared(EndpointLoad a, string scoreA, EndpointLoad b, string scoreB) => explanation.Compared(a, scoreA, b, scoreB);
}
