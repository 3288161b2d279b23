namespace Mesh.Balancing;

/// <summary>Options of the <see cref="LoadBalancerNames.RingHash"/> balancer. Bound from <c>Mesh:Services:{name}:RingHash</c>.</summary>
public sealed class RingHashOptions
{
    /// <summary>The largest ring allowed, in points.</summary>
    internal const int MaxRingSize = 8 * 1024 * 1024;

    /// <summary>Gets or sets the name of the request header whose value is the hash key.</summary>
    /// <value><see langword="null"/> by default: every request is then spread at random.</value>
    public string? Header { get; set; }

    /// <summary>Gets or sets the least number of points on the ring; more points spread keys more evenly.</summary>
    /// <value>1024 by default; from 1 to 8,388,608.</value>
    public int MinimumRingSize { get; set; } = 1024;
}
