namespace Mesh.Balancing;

/// <summary>Power of two choices on requests in flight, scaled by weight: of two random endpoints, the less loaded.</summary>
internal sealed class LeastRequestBalancer(EndpointState[] endpoints, MeshRandom random) : ILoadBalancer
{
    public EndpointState Pick(HttpRequestMessage request)
    {
        if (endpoints.Length == 1)
        {
            return endpoints[0];
        }

        var (a, b) = PowerOfTwoChoices.Draw(endpoints, random);

        // (inFlight + 1) / weight compared without division.
        return (long)(a.InFlight + 1) * b.Weight <= (long)(b.InFlight + 1) * a.Weight ? a : b;
    }
}
