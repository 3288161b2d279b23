using Mesh.Utilities;

namespace Mesh.Balancing;

/// <summary>
/// Weighted round robin. Each cycle of <c>total weight</c> picks gives every endpoint exactly its weight in picks;
/// with unequal weights the slots are visited in a scrambled order so an endpoint's picks are spread through the cycle.
/// </summary>
internal sealed class RoundRobinBalancer : ILoadBalancer
{
    private static readonly long[] s_strides = [1_000_003, 998_244_353, 1_000_000_007];

    private readonly EndpointLoad[] _endpoints;
    private readonly WeightTable _weights;
    private readonly long _stride;
    private long _next;

    public RoundRobinBalancer(EndpointLoad[] endpoints, MeshRandom random)
    {
        _endpoints = endpoints;
        _weights = new WeightTable(endpoints);
        _stride = Array.Find(s_strides, p => _weights.Total % p != 0);
        _next = random.Next(endpoints.Length); // clients started together do not all begin on the same endpoint
    }

    public int Pick(in PickContext context)
    {
        var n = (ulong)Interlocked.Increment(ref _next);
        if (_weights.IsUniform)
        {
            return (int)(n % (ulong)_endpoints.Length);
        }

        // A stride coprime with the total makes slot = n·stride mod total a permutation of each cycle.
        var total = (ulong)_weights.Total;
        var slot = (long)(n % total * (ulong)_stride % total);
        return _weights.IndexOf(slot);
    }
}
