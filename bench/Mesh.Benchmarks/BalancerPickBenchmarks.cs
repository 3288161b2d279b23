using BenchmarkDotNet.Attributes;
using Mesh.Balancing;
using Mesh.Discovery;
using Mesh.Utilities;

namespace Mesh.Benchmarks;

/// <summary>One pick and one completed lease, per balancer and endpoint count: should allocate nothing, and stay flat for P2C.</summary>
[MemoryDiagnoser]
public class BalancerPickBenchmarks
{
    private readonly PickContext _context = new("user-42", null);
    private EndpointLoad[] _endpoints = [];
    private ILoadBalancer _balancer = null!;

    [Params(LoadBalancerNames.RoundRobin, LoadBalancerNames.Random, LoadBalancerNames.LeastRequest, LoadBalancerNames.PeakEwma, LoadBalancerNames.RingHash)]
    public string Balancer { get; set; } = LoadBalancerNames.PeakEwma;

    [Params(3, 100, 1000)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _endpoints = Enumerable.Range(0, Endpoints)
            .Select(i => new EndpointLoad(new MeshEndpoint(new Uri($"http://127.0.0.1:{10000 + i}")), TimeProvider.System))
            .ToArray();
        _balancer = LoadBalancerFactory.Create(Balancer, new RingHashOptions { Header = "x-user" }, _endpoints, MeshRandom.Shared, TimeProvider.System);
    }

    [Benchmark]
    public int PickAndComplete()
    {
        var endpoint = _endpoints[_balancer.Pick(_context)];
        var lease = endpoint.Acquire(TimeProvider.System.GetTimestamp());
        lease.Complete(EndpointOutcome.Success, TimeProvider.System.GetTimestamp());
        return endpoint.InFlight;
    }
}
