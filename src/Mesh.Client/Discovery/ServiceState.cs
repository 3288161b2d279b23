using Mesh.Balancing;
using Mesh.Resilience;

namespace Mesh.Discovery;

/// <summary>
/// One service as the request path sees it: its options, endpoints, resilience policy, and the picker that balances
/// over the endpoints not ejected. The picker is an immutable pair swapped whole when an endpoint leaves or returns.
/// </summary>
internal sealed class ServiceState
{
    private readonly MeshRandom _random;
    private readonly TimeProvider _time;
    private volatile Picker _picker;

    public ServiceState(string name, MeshServiceOptions options, EndpointState[] endpoints, EndpointState[] routable, ResiliencePolicy policy, MeshRandom random, TimeProvider time)
    {
        Name = name;
        Options = options;
        Endpoints = endpoints;
        Routable = routable;
        Policy = policy;
        _random = random;
        _time = time;
        _picker = CreatePicker();
    }

    public string Name { get; }

    public MeshServiceOptions Options { get; }

    /// <summary>Gets every endpoint, drained ones (weight 0) included.</summary>
    public EndpointState[] Endpoints { get; }

    /// <summary>Gets the endpoints that may receive traffic (weight above 0); never empty.</summary>
    public EndpointState[] Routable { get; }

    public ResiliencePolicy Policy { get; }

    /// <summary>Gets the balancer in force, over the endpoints not ejected.</summary>
    public ILoadBalancer Balancer => _picker.Balancer;

    /// <summary>Gets the endpoints the balancer picks from now.</summary>
    public EndpointState[] Available => _picker.Available;

    /// <summary>Picks an endpoint, preferring one the call has not tried yet.</summary>
    public EndpointState Pick(HttpRequestMessage request, MeshCall? call)
    {
        var picker = _picker;
        var endpoint = picker.Balancer.Pick(request);
        if (call is null || !call.HasTried(endpoint))
        {
            return endpoint;
        }

        // The balancer's own choice first; when it keeps landing on a tried endpoint, the next untried one from a random start.
        var again = picker.Balancer.Pick(request);
        if (!call.HasTried(again))
        {
            return again;
        }

        var available = picker.Available;
        var start = _random.Next(available.Length);
        for (var i = 0; i < available.Length; i++)
        {
            var candidate = available[(start + i) % available.Length];
            if (!call.HasTried(candidate))
            {
                return candidate;
            }
        }

        return endpoint;
    }

    /// <summary>Counts the endpoints ejected now.</summary>
    public int EjectedCount()
    {
        var now = _time.GetTimestamp();
        var ejected = 0;
        foreach (var endpoint in Endpoints)
        {
            ejected += endpoint.IsEjected(now) ? 1 : 0;
        }

        return ejected;
    }

    /// <summary>Rebuilds the picker from the endpoints not ejected now.</summary>
    public void RefreshPicker() => _picker = CreatePicker();

    private Picker CreatePicker()
    {
        var now = _time.GetTimestamp();
        var available = Array.FindAll(Routable, e => !e.IsEjected(now));

        // With every endpoint ejected (only possible for one endpoint, or at 100%), balance over all rather than fail.
        if (available.Length == 0)
        {
            available = Routable;
        }

        return new Picker(available, LoadBalancerFactory.Create(Options, available, _random, _time));
    }

    private sealed record Picker(EndpointState[] Available, ILoadBalancer Balancer);
}
