using Mesh.Utilities;

namespace Mesh.Balancing;

/// <summary>Creates the balancer a service names over one endpoint set.</summary>
internal static class LoadBalancerFactory
{
    /// <summary>Creates the balancer <paramref name="name"/> over <paramref name="endpoints"/>, which holds only routable endpoints (weight above 0) and is never empty.</summary>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not one of <see cref="LoadBalancerNames"/>.</exception>
    public static ILoadBalancer Create(string name, RingHashOptions ringHash, EndpointLoad[] endpoints, MeshRandom random, TimeProvider time)
    {
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
            return new RingHashBalancer(endpoints, ringHash, random);
        }

        if (Is(name, LoadBalancerNames.PeakEwma))
        {
            return new PeakEwmaBalancer(endpoints, random, time);
        }

        throw new ArgumentException($"Unknown load balancer '{name}'.", nameof(name));
    }

    private static bool Is(string? name, string builtIn) => string.Equals(name, builtIn, StringComparison.OrdinalIgnoreCase);
}
