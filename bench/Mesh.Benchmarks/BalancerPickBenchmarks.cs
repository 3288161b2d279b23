using BenchmarkDotNet.Attributes;
using Mesh.Balancing;
using Mesh.Discovery;

namespace Mesh.Benchmarks;

/// <summary>One pick and one completed lease, per balancer and endpoint count: should allocate nothing, and stay flat for P2C.</summary>
[MemoryDiagnoser]
public class BalancerPickBenchmarks
{
    private readonly HttpRequestMessage _request = new(HttpMethod.Get, "http://inventory/items/1");
    private ILoadBalancer _balancer = null!;

    [Params(LoadBalancerNames.RoundRobin, LoadBalancerNames.Random, LoadBalancerNames.LeastRequest, LoadBalancerNames.PeakEwma, LoadBalancerNames.RingHash)]
    public string Balancer { get; set; } = LoadBalancerNames.PeakEwma;

    [Params(3, 100, 1000)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new MeshServiceOptions { LoadBalancer = Balancer };
        options.RingHash.Header = "x-user";
        _request.Headers.Add("x-user", "user-42");
        var endpoints = Enumerable.Range(0, Endpoints)
            .Select(i => new EndpointState(new MeshEndpoint(new Uri($"http://127.0.0.1:{10000 + i}")), TimeProvider.System))
            .ToArray();
        _balancer = LoadBalancerFactory.Create(options, endpoints, MeshRandom.Shared, TimeProvider.System);
    }

    [GlobalCleanup]
    public void Cleanup() => _request.Dispose();

    [Benchmark]
    public int PickAndComplete()
    {
        var endpoint = _balancer.Pick(_request);
        var lease = endpoint.Acquire(TimeProvider.System.GetTimestamp());
        lease.Complete(EndpointOutcome.Success, TimeProvider.System.GetTimestamp());
        return endpoint.InFlight;
    }
}
