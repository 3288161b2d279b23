namespace Mesh.Balancing;

/// <summary>
/// Power of two choices on peak-EWMA cost: of two random endpoints, the one with the lower
/// decayed peak latency × (in flight + 1) / weight. A slow answer raises an endpoint's latency at once; fast
/// answers bring it down over <see cref="EndpointState.DecayTime"/>.
/// </summary>
internal sealed class PeakEwmaBalancer(EndpointState[] endpoints, MeshRandom random, TimeProvider time) : ILoadBalancer
{
    public EndpointState Pick(HttpRequestMessage request)
    {
        if (endpoints.Length == 1)
        {
            return endpoints[0];
        }

        var (a, b) = PowerOfTwoChoices.Draw(endpoints, random);
        var now = time.GetTimestamp();
        return a.Cost(now) * b.Weight <= b.Cost(now) * a.Weight ? a : b;
    }
}
