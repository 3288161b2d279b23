using Mesh.Utilities;

namespace Mesh.Balancing;

/// <summary>
/// Power of two choices on peak-EWMA cost: of two random endpoints, the one with the lower
/// decayed peak latency × (in flight + 1) / weight. A slow answer raises an endpoint's latency at once; fast
/// answers bring it down over <see cref="EndpointLoad.DecayTime"/>.
/// </summary>
internal sealed class PeakEwmaBalancer(EndpointLoad[] endpoints, MeshRandom random, TimeProvider time) : ILoadBalancer
{
    public int Pick(in PickContext context)
    {
        if (endpoints.Length == 1)
        {
            return 0;
        }

        var (i, j) = PowerOfTwoChoices.Draw(endpoints.Length, random);
        var (a, b) = (endpoints[i], endpoints[j]);
        var now = time.GetTimestamp();
        if (context.History is IPickTrace trace)
        {
            Trace(trace, a, b, now);
        }

        return a.Cost(now) * b.Weight <= b.Cost(now) * a.Weight ? i : j;
    }

    private static void Trace(IPickTrace trace, EndpointLoad a, EndpointLoad b, long now) =>
        trace.Compared(a, CostOf(a, now), b, CostOf(b, now));

    private static string CostOf(EndpointLoad endpoint, long now) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"cost={endpoint.Cost(now) / endpoint.Weight:0.###}ms");
}
