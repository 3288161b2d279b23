namespace Mesh.RateLimiting;

/// <summary>
/// A client-side token bucket for the service: over the limit a request fails at once without being sent, or waits in
/// a bounded queue. Off unless set. Bound from <c>Mesh:Services:{name}:RateLimit</c>.
/// </summary>
public sealed class RateLimitOptions
{
    /// <summary>Gets or sets the sustained rate of requests allowed.</summary>
    /// <value>200 by default; 1 or more.</value>
    public int PermitsPerSecond { get; set; } = 200;

    /// <summary>Gets or sets how many requests may be sent at once above the sustained rate (the bucket's size).</summary>
    /// <value>50 by default; 1 or more.</value>
    public int Burst { get; set; } = 50;

    /// <summary>Gets or sets how many requests may wait for a permit; 0 rejects at once.</summary>
    /// <value>0 by default; 0 or more.</value>
    public int QueueLimit { get; set; }
}
