using System.Net;
using Mesh.Balancing;

namespace Mesh.Client.Tests.Resilience;

/// <summary>A backend that stops under load costs no request, and is ejected.</summary>
public sealed class FailoverTests
{
    [Fact]
    public async Task A_backend_stopped_halfway_through_2000_GETs_costs_no_request_and_is_ejected()
    {
        var backends = await TestBackend.StartManyAsync(3);
        try
        {
            using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, backends));
            var client = host.Client;
            var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

            var ok = await Load.RunAsync(2000, 16, async i =>
            {
                if (i == 1000)
                {
                    _ = backends[1].StopAsync().ContinueWith(t => stopped.TrySetResult(), TaskScheduler.Default);
                }
                else if (i >= 1100)
                {
                    // Calls up to 1100 race the stop; the rest go once it has taken effect, however fast the first ones were.
                    await stopped.Task.WaitAsync(TimeSpan.FromSeconds(30));
                }

                await Load.GetOkAsync(client, $"http://inventory/items/{i}");
            });
            await stopped.Task;

            Assert.Equal(2000, ok);
            Assert.True(host.Catalog.TryGetService("inventory", out var service));
            var dead = service.Destination.Endpoints.Single(e => e.Endpoint.Address == backends[1].Address);
            Assert.True(dead.Ejection.IsEjected(TimeProvider.System.GetTimestamp()), "the stopped backend is not ejected");
            Assert.DoesNotContain(dead, service.Destination.Available);
            Assert.True(host.Catalog.CountersOf("inventory").Ejections >= 1);
        }
        finally
        {
            await backends.DisposeAllAsync();
        }
    }

    [Fact]
    public async Task A_retry_goes_to_an_endpoint_not_yet_tried()
    {
        await using var failing = await TestBackend.StartAsync("failing");
        await using var healthy = await TestBackend.StartAsync("healthy");
        failing.Status = HttpStatusCode.ServiceUnavailable;
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [failing, healthy]));
        var client = host.Client;

        for (var i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync("http://inventory/items");
            Assert.Equal("healthy", response.Headers.GetValues("x-backend").Single());
        }

        // Each call reached the failing backend at most once, never twice in a row.
        Assert.InRange(failing.Requests, 1, 20);
    }
}
