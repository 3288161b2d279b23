namespace Mesh.Authorization;

/// <summary>
/// A token bucket per caller identity (<see cref="AuthorizationOptions.RateLimitPerCaller"/>): each caller with a verified
/// mesh identity has its own bucket; callers without one share a bucket per client address.
/// </summary>
public sealed class CallerRateLimitOptions
{
    /// <summary>Gets or sets the requests per second each caller may make, on average.</summary>
    /// <value>100 by default; 1 to 1 000 000.</value>
    public int PermitsPerSecond { get; set; } = 100;

    /// <summary>Gets or sets the requests a caller may make at once after being idle.</summary>
    /// <value>100 by default; 1 to 1 000 000.</value>
    public int Burst { get; set; } = 100;
}
