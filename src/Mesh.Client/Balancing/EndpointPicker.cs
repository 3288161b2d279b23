using Mesh.Utilities;

namespace Mesh.Balancing;

/// <summary>
/// A balancer over one immutable set of endpoints, preferring an endpoint the call has not tried: the balancer's own
/// choice first, its second choice next, then the next untried endpoint from a random start. Swapped whole when the
/// set changes, so a pick never sees half of a change.
/// </summary>
internal sealed class EndpointPicker
{
    private readonly MeshRandom _random;

    public EndpointPicker(EndpointLoad[] endpoints, ILoadBalancer balancer, MeshRandom random)
    {
        Endpoints = endpoints;
        Balancer = balancer;
        _random = random;
    }

    /// <summary>Gets the endpoints picked from; never empty.</summary>
    public EndpointLoad[] Endpoints { get; }

    /// <summary>Gets the balancer.</summary>
    public ILoadBalancer Balancer { get; }

    /// <summary>Picks an endpoint and returns its index in <see cref="Endpoints"/>.</summary>
    public int Pick(in PickContext context)
    {
        var first = Balancer.Pick(context);
        if (context.History is not { } history || !history.HasTried(Endpoints[first]))
        {
            return first;
        }

        var again = Balancer.Pick(context);
        if (!history.HasTried(Endpoints[again]))
        {
            return again;
        }

        var start = _random.Next(Endpoints.Length);
        for (var i = 0; i < Endpoints.Length; i++)
        {
            var candidate = (start + i) % Endpoints.Length;
            if (!history.HasTried(Endpoints[candidate]))
            {
                return candidate;
            }
        }

        return first;
    }
}
