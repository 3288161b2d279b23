namespace Mesh.Balancing;

/// <summary>
/// Consistent hashing: every endpoint owns points on a ring of 64-bit hashes in proportion to its weight, and a
/// request goes to the owner of the first point at or after the hash of its key. Adding one endpoint to N moves
/// about 1/(N+1) of the keys. Requests without a key are spread at random.
/// </summary>
internal sealed class RingHashBalancer : ILoadBalancer
{
    private readonly EndpointState[] _endpoints;
    private readonly MeshRandom _random;
    private readonly string? _header;
    private readonly ulong[] _points;
    private readonly EndpointState[] _owners;

    public RingHashBalancer(EndpointState[] endpoints, RingHashOptions options, MeshRandom random)
    {
        _endpoints = endpoints;
        _random = random;
        _header = string.IsNullOrEmpty(options.Header) ? null : options.Header;

        long totalWeight = 0;
        foreach (var endpoint in endpoints)
        {
            totalWeight += endpoint.Weight;
        }

        var size = (int)Math.Min(RingHashOptions.MaxRingSize, totalWeight * options.PointsPerWeight);
        var points = new List<(ulong Hash, EndpointState Owner)>(size);
        foreach (var endpoint in endpoints)
        {
            var count = (long)endpoint.Weight * options.PointsPerWeight;
            for (var k = 0; k < count && points.Count < RingHashOptions.MaxRingSize; k++)
            {
                points.Add((KeyHash.Of($"{endpoint.Authority}#{k}"), endpoint));
            }
        }

        points.Sort(static (x, y) => x.Hash.CompareTo(y.Hash));
        _points = new ulong[points.Count];
        _owners = new EndpointState[points.Count];
        for (var i = 0; i < points.Count; i++)
        {
            (_points[i], _owners[i]) = points[i];
        }
    }

    public EndpointState Pick(HttpRequestMessage request)
    {
        if (_header is null || !request.Headers.NonValidated.TryGetValues(_header, out var values) || values.Count == 0)
        {
            return _endpoints[_random.Next(_endpoints.Length)];
        }

        var hash = values.Count == 1 ? KeyHash.Of(FirstOf(values)) : KeyHash.Of(values.ToString());
        var index = Array.BinarySearch(_points, hash);
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

    private static string FirstOf(System.Net.Http.Headers.HeaderStringValues values)
    {
        foreach (var value in values)
        {
            return value;
        }

        return string.Empty;
    }
}
