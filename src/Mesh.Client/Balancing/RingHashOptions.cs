namespace Mesh.Balancing;

/// <summary>Options of the <see cref="LoadBalancerNames.RingHash"/> balancer. Bound from <c>Mesh:Services:{name}:RingHash</c>.</summary>
public sealed class RingHashOptions
{
    /// <summary>The largest ring allowed, in points.</summary>
    internal const int MaxRingSize = 8 * 1024 * 1024;

    /// <summary>The most points one unit of weight may have.</summary>
    internal const int MaxPointsPerWeight = 10_000;

    /// <summary>Gets or sets the name of the request header whose value is the hash key.</summary>
    /// <value><see langword="null"/> by default: every request is then spread at random.</value>
    public string? Header { get; set; }

    /// <summary>
    /// Gets or sets how many points on the ring each unit of an endpoint's weight owns. More points spread keys more
    /// evenly. The number is fixed per endpoint, so adding an endpoint moves only the keys that land on its own points.
    /// </summary>
    /// <value>160 by default; from 1 to 10,000. The ring holds at most 8,388,608 points.</value>
    public int PointsPerWeight { get; set; } = 160;
}
