namespace Mesh.Balancing;

/// <summary>Creates the balancer named in a service's options over one endpoint set.</summary>
internal static class LoadBalancerFactory
{
    public static bool IsKnown(string? name) =>
        name is not null && LoadBalancerNames.All.Contains(name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates the balancer over <paramref name="endpoints"/>, which holds only routable endpoints (weight above 0) and is never empty.</summary>
    public static ILoadBalancer Create(MeshServiceOptions options, EndpointState[] endpoints, MeshRandom random, TimeProvider time)
    {
        var name = options.LoadBalancer;
        if (Is(name, LoadBalancerNames.RoundRobin))
        {
            return new RoundRobinBalancer(endpoints, random);
        }

        if (Is(name, LoadBalancerNames.Random))
        {
            return new RandomBalancer(endpoints, random);
        }

        if (Is(name, LoadBalancerNames.LeastRequest))
        {
            return new LeastRequestBalancer(endpoints, random);
        }

        if (Is(name, LoadBalancerNames.RingHash))
        {
            return new RingHashBalancer(endpoints, options.RingHash, random);
        }

        if (Is(name, LoadBalancerNames.PeakEwma))
        {
            return new PeakEwmaBalancer(endpoints, random, time);
        }

        throw new ArgumentException($"Unknown load balancer '{name}'.", nameof(options));
    }

    private static bool Is(string? name, string builtIn) => string.Equals(name, builtIn, StringComparison.OrdinalIgnoreCase);
}
