using Mesh.Utilities;

namespace Mesh.Balancing;

/// <summary>
/// Consistent hashing: every endpoint owns points on a ring of 64-bit hashes in proportion to its weight, and a
/// request goes to the owner of the first point at or after the hash of its key. Adding one endpoint to N moves
/// about 1/(N+1) of the keys. Requests without a key are spread at random.
/// </summary>
internal sealed class RingHashBalancer : ILoadBalancer
{
    private readonly int _count;
    private readonly MeshRandom _random;
    private readonly ulong[] _points;
    private readonly int[] _owners;

    public RingHashBalancer(EndpointLoad[] endpoints, RingHashOptions options, MeshRandom random)
    {
        _count = endpoints.Length;
        _random = random;

        long totalWeight = 0;
        foreach (var endpoint in endpoints)
        {
            totalWeight += endpoint.Weight;
        }

        var size = (int)Math.Min(RingHashOptions.MaxRingSize, totalWeight * options.PointsPerWeight);
        var points = new List<(ulong Hash, int Owner)>(size);
        for (var i = 0; i < endpoints.Length; i++)
        {
            var count = (long)endpoints[i].Weight * options.PointsPerWeight;
            for (var k = 0; k < count && points.Count < RingHashOptions.MaxRingSize; k++)
            {
                points.Add((KeyHash.Of($"{endpoints[i].Authority}#{k}"), i));
            }
        }

        points.Sort(static (x, y) => x.Hash.CompareTo(y.Hash));
        _points = new ulong[points.Count];
        _owners = new int[points.Count];
        for (var i = 0; i < points.Count; i++)
        {
            (_points[i], _owners[i]) = points[i];
        }
    }

    public int Pick(in PickContext context)
    {
        if (context.HashKey is not { } key)
        {
            return _random.Next(_count);
        }

        var index = Array.BinarySearch(_points, KeyHash.Of(key));
        if (index < 0)
        {
            index = ~index;
            if (index == _points.Length)
            {
                index = 0;
            }
        }

        return _owners[index];
    }
}
