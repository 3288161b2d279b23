namespace Mesh.Balancing;

/// <summary>The names of the built-in load balancers, as written in <see cref="MeshServiceOptions.LoadBalancer"/>.</summary>
public static class LoadBalancerNames
{
    /// <summary>Weighted round robin: each endpoint in turn, in proportion to its weight.</summary>
    public const string RoundRobin = nameof(RoundRobin);

    /// <summary>Weighted random: an endpoint drawn at random, in proportion to its weight.</summary>
    public const string Random = nameof(Random);

    /// <summary>Power of two choices on the number of requests in flight: of two random endpoints, the less busy.</summary>
    public const string LeastRequest = nameof(LeastRequest);

    /// <summary>
    /// Power of two choices on peak-EWMA latency times (requests in flight + 1): of two random endpoints, the one
    /// expected to answer sooner. Reacts at once to a slow endpoint and forgets it over about ten seconds. The default.
    /// </summary>
    public const string PeakEwma = nameof(PeakEwma);

    /// <summary>
    /// Consistent hashing on a request key (the header named by <see cref="RingHashOptions.Header"/>), so one key
    /// keeps reaching one endpoint; requests without the key are spread at random.
    /// </summary>
    public const string RingHash = nameof(RingHash);

    /// <summary>Gets every built-in name.</summary>
    public static IReadOnlyList<string> All { get; } = [RoundRobin, Random, LeastRequest, PeakEwma, RingHash];

    /// <summary>Whether <paramref name="name"/> is a built-in name, ignoring case.</summary>
    internal static bool IsKnown(string? name) => name is not null && All.Contains(name, StringComparer.OrdinalIgnoreCase);
}
