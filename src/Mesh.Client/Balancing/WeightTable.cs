namespace Mesh.Balancing;

/// <summary>Cumulative weights of an endpoint set, to map a number in [0, total) to an endpoint in proportion to weight.</summary>
internal sealed class WeightTable
{
    private readonly long[] _upperBounds;

    public WeightTable(EndpointLoad[] endpoints)
    {
        _upperBounds = new long[endpoints.Length];
        long total = 0;
        var first = endpoints[0].Weight;
        var uniform = true;
        for (var i = 0; i < endpoints.Length; i++)
        {
            total += endpoints[i].Weight;
            _upperBounds[i] = total;
            uniform &= endpoints[i].Weight == first;
        }

        Total = total;
        IsUniform = uniform;
    }

    /// <summary>Gets the sum of the weights.</summary>
    public long Total { get; }

    /// <summary>Gets whether every endpoint has the same weight, so an index can be used directly.</summary>
    public bool IsUniform { get; }

    /// <summary>Returns the index of the endpoint whose weight range holds <paramref name="slot"/>.</summary>
    public int IndexOf(long slot)
    {
        int lo = 0, hi = _upperBounds.Length - 1;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_upperBounds[mid] > slot)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }
}
