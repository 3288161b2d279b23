using Mesh.Utilities;

namespace Mesh.Balancing;

/// <summary>Power of two choices on requests in flight, scaled by weight: of two random endpoints, the less loaded.</summary>
internal sealed class LeastRequestBalancer(EndpointLoad[] endpoints, MeshRandom random) : ILoadBalancer
{
    public int Pick(in PickContext context)
    {
        if (endpoints.Length == 1)
        {
            return 0;
        }

        var (i, j) = PowerOfTwoChoices.Draw(endpoints.Length, random);
        var (a, b) = (endpoints[i], endpoints[j]);

        if (context.History is IPickTrace trace)
        {
            trace.Compared(a, InFlightOf(a), b, InFlightOf(b));
        }

        // (inFlight + 1) / weight compared without division.
        return (long)(a.InFlight + 1) * b.Weight <= (long)(b.InFlight + 1) * a.Weight ? i : j;
    }

    private static string InFlightOf(EndpointLoad endpoint) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"inflight={endpoint.InFlight} weight={endpoint.Weight}");
}
