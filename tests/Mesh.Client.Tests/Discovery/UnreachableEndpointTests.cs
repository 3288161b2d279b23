using Mesh.Balancing;
using Mesh.Discovery;

namespace Mesh.Client.Tests.Discovery;

/// <summary>Endpoints that refuse connections: requests move to another endpoint, and when none answers the error says which were tried.</summary>
public sealed class UnreachableEndpointTests
{
    [Fact]
    public async Task When_every_endpoint_refuses_the_error_names_the_service_and_the_endpoints_tried()
    {
        using var a = LoopbackPorts.Closed();
        using var b = LoopbackPorts.Closed();
        using var c = LoopbackPorts.Closed();
        Uri[] closed = [a.Address, b.Address, c.Address];
        var config = new Dictionary<string, string?>();
        for (var i = 0; i < closed.Length; i++)
        {
            config[$"Mesh:Services:inventory:Endpoints:{i}"] = closed[i].ToString();
        }

        using var host = MeshTestHost.Create(config);

        var error = await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://inventory/items"));

        Assert.Equal("inventory", error.ServiceName);
        Assert.Equal(closed.Select(c => c.ToString()).Order(), error.EndpointsTried.Select(c => c.ToString()).Order());
        Assert.Contains("'inventory'", error.Message, StringComparison.Ordinal);
        Assert.All(closed, c => Assert.Contains(c.Authority, error.Message, StringComparison.Ordinal));
        Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
    }

    [Fact]
    public async Task A_refused_endpoint_costs_no_failed_request_even_for_a_POST()
    {
        await using var live = await TestBackend.StartAsync("live");
        using var closed = LoopbackPorts.Closed();
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:payments:LoadBalancer"] = LoadBalancerNames.RoundRobin,
            ["Mesh:Services:payments:Endpoints:0"] = closed.ToString(),
            ["Mesh:Services:payments:Endpoints:1"] = live.Address.ToString(),
        };
        using var host = MeshTestHost.Create(config);
        var client = host.Client;

        var ok = await Load.RunAsync(200, 4, async i =>
        {
            using var response = await client.PostAsync("http://payments/charge", new StringContent($"charge {i}"));
            var echo = await TestBackend.ReadEchoAsync(response);
            Assert.Equal($"charge {i}", echo.Body);
        });

        Assert.Equal(200, ok);
        Assert.Equal(200, live.Requests);
        Assert.True(host.Catalog.TryGetService("payments", out var service));
        Assert.All(service.Destination.Endpoints, e => Assert.Equal(0, e.Load.InFlight));
    }

    [Fact]
    public async Task Leases_are_released_when_the_caller_cancels()
    {
        await using var slow = await TestBackend.StartAsync("slow", delay: TimeSpan.FromSeconds(30));
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.LeastRequest, [slow]));
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        using var cancel = new CancellationTokenSource();

        var call = host.Client.GetAsync("http://inventory/slow", cancel.Token);
        await Eventually.WaitAsync(() => service.Destination.Endpoints[0].Load.InFlight == 1, "the request to be in flight");
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Equal(0, service.Destination.Endpoints[0].Load.InFlight);
    }
}
