using Mesh.Balancing;
using Mesh.Resilience;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.Resilience;

/// <summary>The total timeout covers every attempt and surfaces as HttpClient users expect; attempt timeouts are retried; deadlines are inherited.</summary>
public sealed class TimeoutTests : IAsyncLifetime
{
    private TestBackend _slow = null!;
    private TestBackend _fast = null!;

    public async Task InitializeAsync()
    {
        _slow = await TestBackend.StartAsync("slow", delay: TimeSpan.FromSeconds(30));
        _fast = await TestBackend.StartAsync("fast");
    }

    public async Task DisposeAsync()
    {
        await _slow.DisposeAsync();
        await _fast.DisposeAsync();
    }

    [Fact]
    public async Task The_total_timeout_ends_the_call_as_a_TaskCanceledException_with_a_TimeoutException_inside()
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_slow]);
        config["Mesh:Services:inventory:Timeout"] = "00:00:00.300";
        using var host = MeshTestHost.Create(config);

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => host.Client.GetAsync("http://inventory/items"));

        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains("service 'inventory'", error.Message, StringComparison.Ordinal);
        Assert.Contains("0.3 s", error.Message, StringComparison.Ordinal);
        await Eventually.WaitAsync(() => _slow.Aborted == _slow.Requests, "the backend to see the request cancelled");
    }

    [Fact]
    public async Task An_attempt_timeout_is_retried_on_another_endpoint()
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_slow, _fast]);
        config["Mesh:Services:inventory:AttemptTimeout"] = "00:00:00.200";
        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        using var host = MeshTestHost.Create(config);
        var client = host.Client;

        for (var i = 0; i < 6; i++)
        {
            using var response = await client.GetAsync("http://inventory/items");
            Assert.Equal("fast", response.Headers.GetValues("x-backend").Single());
        }

        // Every call that met the slow backend was retried; the backend may count the last attempt a moment later.
        var retries = host.Catalog.CountersOf("inventory").Retries;
        Assert.InRange(retries, 1, 6);
        await Eventually.WaitAsync(() => _slow.Requests >= 1 && _slow.Aborted == _slow.Requests, "the abandoned attempts to be cancelled");
        Assert.True(_slow.Requests <= retries);
    }

    [Fact]
    public async Task An_attempt_timeout_with_no_retry_left_surfaces_as_a_timeout()
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_slow]);
        config["Mesh:Services:inventory:AttemptTimeout"] = "00:00:00.100";
        config["Mesh:Services:inventory:Retry:Enabled"] = "false";
        using var host = MeshTestHost.Create(config);

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => host.Client.GetAsync("http://inventory/items"));

        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains("attempt timeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_call_made_within_a_deadline_scope_gets_only_the_time_that_remains()
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_slow]);
        using var host = MeshTestHost.Create(config);
        var client = host.Client;

        TaskCanceledException error;
        using (MeshDeadline.Begin(TimeSpan.FromMilliseconds(200)))
        {
            error = await Assert.ThrowsAsync<TaskCanceledException>(() => client.GetAsync("http://inventory/items"));
        }

        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains("inherited", error.Message, StringComparison.Ordinal);
        Assert.Null(MeshDeadline.Current);
    }

    [Fact]
    public async Task A_call_made_after_the_inherited_deadline_passed_is_never_sent()
    {
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_fast]));

        using (MeshDeadline.Begin(DateTimeOffset.UtcNow.AddSeconds(-1)))
        {
            await Assert.ThrowsAsync<TaskCanceledException>(() => host.Client.GetAsync("http://inventory/items"));
        }

        Assert.Equal(0, _fast.Requests);
    }

    [Fact]
    public async Task A_deadline_scope_opened_while_serving_a_request_bounds_the_meshed_calls_it_makes()
    {
        // A real ASP.NET Core service whose endpoint gives itself 200 ms and calls the slow service through the mesh.
        await using var front = await TestApp.StartAsync(
            services =>
            {
                services.AddMesh(o => o.Services["inventory"] = new MeshServiceOptions { Endpoints = { new(_slow.Address.ToString()) } });
                services.AddHttpClient("inventory").AddMesh();
            },
            app => app.MapGet("/checkout", async (IHttpClientFactory clients) =>
            {
                using var scope = MeshDeadline.Begin(TimeSpan.FromMilliseconds(200));
                try
                {
                    using var response = await clients.CreateClient("inventory").GetAsync("http://inventory/items");
                    return Results.Ok();
                }
                catch (TaskCanceledException ex) when (ex.InnerException is TimeoutException)
                {
                    return Results.Text(ex.Message, statusCode: StatusCodes.Status504GatewayTimeout);
                }
            }));
        using var caller = new HttpClient();

        using var answer = await caller.GetAsync(new Uri(front.Address, "/checkout"));

        Assert.Equal(504, (int)answer.StatusCode);
        Assert.Contains("inherited", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
