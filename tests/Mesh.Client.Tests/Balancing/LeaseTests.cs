using Mesh.Balancing;
using Mesh.Discovery;
using Mesh.Utilities;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Balancing;

/// <summary>Leases and picks: in-flight accounting, peak-EWMA learning and decay, and no allocation on the hot path.</summary>
public sealed class LeaseTests
{
    private static readonly PickContext s_keyed = new("user-42", null);

    [Fact]
    public void A_lease_counts_the_request_in_flight_until_completed()
    {
        var endpoint = new EndpointLoad(new MeshEndpoint(new Uri("http://127.0.0.1:5001")), TimeProvider.System);

        var lease = endpoint.Acquire(0);
        Assert.Equal(1, endpoint.InFlight);

        lease.Complete(EndpointOutcome.Canceled, 10);
        Assert.Equal(0, endpoint.InFlight);
    }

    [Fact]
    public void PeakEwma_takes_a_slow_answer_at_once_and_forgets_it_over_the_decay_time()
    {
        var time = new FakeTimeProvider();
        var endpoint = new EndpointLoad(new MeshEndpoint(new Uri("http://127.0.0.1:5001")), time);

        Complete(endpoint, time, TimeSpan.FromMilliseconds(5));
        Complete(endpoint, time, TimeSpan.FromMilliseconds(200));
        Assert.Equal(200, endpoint.Latency, precision: 3);

        // A fast answer right after the peak barely moves it: the peak is what the balancer must see.
        Complete(endpoint, time, TimeSpan.FromMilliseconds(5));
        Assert.True(endpoint.Latency > 190, $"latency {endpoint.Latency}");

        // With time the cost decays toward zero, so the endpoint is tried again.
        var costNow = endpoint.Cost(time.GetTimestamp());
        time.Advance(EndpointLoad.DecayTime * 3);
        Assert.True(endpoint.Cost(time.GetTimestamp()) < costNow * 0.06);
    }

    [Fact]
    public void A_request_that_never_reached_the_endpoint_is_recorded_as_a_large_latency()
    {
        var time = new FakeTimeProvider();
        var endpoint = new EndpointLoad(new MeshEndpoint(new Uri("http://127.0.0.1:5001")), time);

        endpoint.Acquire(time.GetTimestamp()).Complete(EndpointOutcome.NotSent, time.GetTimestamp());

        Assert.Equal(EndpointLoad.NotSentPenaltyMilliseconds, endpoint.Latency, precision: 3);
    }

    [Fact]
    public void A_request_cut_short_after_longer_than_expected_makes_the_endpoint_look_slow_and_a_quick_cancel_does_not()
    {
        var time = new FakeTimeProvider();
        var endpoint = new EndpointLoad(new MeshEndpoint(new Uri("http://127.0.0.1:5001")), time);
        Complete(endpoint, time, TimeSpan.FromMilliseconds(20));

        // Canceled after 5 ms (the caller gave up): no evidence against the endpoint.
        var quick = endpoint.Acquire(time.GetTimestamp());
        time.Advance(TimeSpan.FromMilliseconds(5));
        quick.Complete(EndpointOutcome.Canceled, time.GetTimestamp());
        Assert.Equal(20, endpoint.Latency, precision: 3);

        // Canceled after 1 s (the call's deadline, or a hedge that won elsewhere): it took at least that long.
        var stalled = endpoint.Acquire(time.GetTimestamp());
        time.Advance(TimeSpan.FromSeconds(1));
        stalled.Complete(EndpointOutcome.Canceled, time.GetTimestamp());
        Assert.Equal(1000, endpoint.Latency, precision: 3);
    }

    [Fact]
    public void An_unmeasured_endpoint_is_free_while_idle_and_costly_while_busy()
    {
        var time = new FakeTimeProvider();
        var endpoint = new EndpointLoad(new MeshEndpoint(new Uri("http://127.0.0.1:5001")), time);
        Assert.Equal(0, endpoint.Cost(time.GetTimestamp()));

        var lease = endpoint.Acquire(time.GetTimestamp());
        Assert.True(endpoint.Cost(time.GetTimestamp()) > 1e6);
        lease.Complete(EndpointOutcome.Canceled, time.GetTimestamp());
    }

    [Theory]
    [InlineData(LoadBalancerNames.RoundRobin, 3)]
    [InlineData(LoadBalancerNames.RoundRobin, 1000)]
    [InlineData(LoadBalancerNames.Random, 3)]
    [InlineData(LoadBalancerNames.Random, 1000)]
    [InlineData(LoadBalancerNames.LeastRequest, 3)]
    [InlineData(LoadBalancerNames.LeastRequest, 1000)]
    [InlineData(LoadBalancerNames.PeakEwma, 3)]
    [InlineData(LoadBalancerNames.PeakEwma, 1000)]
    [InlineData(LoadBalancerNames.RingHash, 3)]
    [InlineData(LoadBalancerNames.RingHash, 1000)]
    public void Pick_and_lease_allocate_nothing(string name, int endpointCount)
    {
        var (balancer, endpoints) = CreateBalancer(name, endpointCount, weighted: true);
        PickMany(balancer, endpoints, 1000); // warm up

        // The least of three runs: the runtime may allocate now and then while it compiles; a pick that allocates would in every run.
        var allocated = long.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            PickMany(balancer, endpoints, 10_000);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, allocated);
    }

    internal static (ILoadBalancer Balancer, EndpointLoad[] Endpoints) CreateBalancer(string name, int endpointCount, bool weighted)
    {
        var endpoints = Enumerable.Range(0, endpointCount)
            .Select(i => new EndpointLoad(new MeshEndpoint(new Uri($"http://127.0.0.1:{10000 + i}"), weight: weighted ? 1 + (i % 3) : 1), TimeProvider.System))
            .ToArray();
        return (LoadBalancerFactory.Create(name, new RingHashOptions { Header = "x-user" }, endpoints, MeshRandom.Shared, TimeProvider.System), endpoints);
    }

    private static void PickMany(ILoadBalancer balancer, EndpointLoad[] endpoints, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var lease = endpoints[balancer.Pick(s_keyed)].Acquire(TimeProvider.System.GetTimestamp());
            lease.Complete(EndpointOutcome.Success, TimeProvider.System.GetTimestamp());
        }
    }

    private static void Complete(EndpointLoad endpoint, FakeTimeProvider time, TimeSpan latency)
    {
        var lease = endpoint.Acquire(time.GetTimestamp());
        time.Advance(latency);
        lease.Complete(EndpointOutcome.Success, time.GetTimestamp());
    }
}
