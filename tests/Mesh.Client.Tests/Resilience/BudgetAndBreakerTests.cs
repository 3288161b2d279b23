using System.Diagnostics;
using System.Net;
using Mesh.Balancing;
using Mesh.CircuitBreaking;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Resilience;

/// <summary>Against a backend that always fails, retries stay within the budget and the breaker stops the traffic.</summary>
public sealed class BudgetAndBreakerTests : IAsyncLifetime
{
    private TestBackend _backend = null!;

    public async Task InitializeAsync()
    {
        _backend = await TestBackend.StartAsync("broken");
        _backend.Status = HttpStatusCode.ServiceUnavailable;
    }

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Fact]
    public async Task Attempts_stay_within_the_retry_budget_and_exhaustion_is_counted_and_told()
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_backend]);
        config["Mesh:Services:inventory:CircuitBreaker:Enabled"] = "false";
        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        using var host = MeshTestHost.Create(config);
        var client = host.Client;
        const int Requests = 600;
        var clock = Stopwatch.StartNew();

        await Load.RunAsync(Requests, 4, async _ =>
        {
            using var response = await client.GetAsync("http://inventory/items");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        });

        var seconds = Math.Ceiling(clock.Elapsed.TotalSeconds) + 1;
        Assert.True(
            _backend.Requests <= (1.2 * Requests) + (10 * seconds),
            $"{_backend.Requests} attempts for {Requests} requests in {seconds} s");
        Assert.True(host.Catalog.CountersOf("inventory").BudgetExhausted > 0);
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("Retry budget of service 'inventory' exhausted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_call_that_fails_for_good_after_the_budget_ran_out_says_so()
    {
        await using var resetting = await TestBackend.StartAsync("resetting");
        resetting.Reset = true;
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [resetting]);
        config["Mesh:Services:inventory:Retry:On:0"] = "reset";
        config["Mesh:Services:inventory:Retry:Budget:Ratio"] = "0";
        config["Mesh:Services:inventory:Retry:Budget:MinPerSecond"] = "0";
        using var host = MeshTestHost.Create(config);

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => host.Client.GetAsync("http://inventory/"));

        Assert.Contains("Not retried: the retry budget of service 'inventory' is exhausted", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, resetting.Requests);
    }

    [Fact]
    public async Task An_unreachable_endpoint_spends_no_retry_budget_and_does_not_open_the_breaker()
    {
        using var closed = LoopbackPorts.Closed();
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:LoadBalancer"] = LoadBalancerNames.RoundRobin,
            ["Mesh:Services:inventory:Endpoints:0"] = closed.ToString(),
            ["Mesh:Services:inventory:Endpoints:1"] = _backend.Address.ToString(),
            ["Mesh:Services:inventory:Retry:Budget:Ratio"] = "0",
            ["Mesh:Services:inventory:Retry:Budget:MinPerSecond"] = "0",
            ["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false",
        };
        _backend.Status = HttpStatusCode.OK;
        using var host = MeshTestHost.Create(config);

        for (var i = 0; i < 20; i++)
        {
            using var response = await host.Client.GetAsync("http://inventory/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(0, host.Catalog.CountersOf("inventory").BudgetExhausted);
        Assert.Equal(0, host.Catalog.CountersOf("inventory").BreakerOpened);
    }

    [Fact]
    public async Task The_breaker_opens_and_then_calls_fail_fast_without_reaching_the_server()
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_backend]);
        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        using var host = MeshTestHost.Create(config);
        var client = host.Client;

        // Failing calls until the breaker opens (20 attempts at least, half of them failed).
        MeshCircuitOpenException? open = null;
        for (var i = 0; i < 100 && open is null; i++)
        {
            try
            {
                using var response = await client.GetAsync("http://inventory/items");
            }
            catch (MeshCircuitOpenException ex)
            {
                open = ex;
            }
        }

        Assert.NotNull(open);
        Assert.Equal("inventory", open.ServiceName);
        Assert.Contains("'inventory'", open.Message, StringComparison.Ordinal);
        var reached = _backend.Requests;

        for (var i = 0; i < 50; i++)
        {
            await Assert.ThrowsAsync<MeshCircuitOpenException>(() => client.GetAsync("http://inventory/items"));
        }

        Assert.Equal(reached, _backend.Requests);
        Assert.Equal(1, host.Catalog.CountersOf("inventory").BreakerOpened);
    }

    [Fact]
    public async Task A_half_open_breaker_lets_one_probe_through_and_closes_when_it_succeeds()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [_backend]);
        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        config["Mesh:Services:inventory:Retry:Enabled"] = "false";
        config["Mesh:Services:inventory:CircuitBreaker:MinimumThroughput"] = "4";
        using var host = MeshTestHost.Create(config, s => s.AddSingleton<TimeProvider>(time));
        var client = host.Client;
        for (var i = 0; i < 4; i++)
        {
            using var response = await client.GetAsync("http://inventory/items");
        }

        await Assert.ThrowsAsync<MeshCircuitOpenException>(() => client.GetAsync("http://inventory/items"));

        // After the break, five concurrent calls: one probe reaches the (now healthy, slow) backend, the others fail fast.
        _backend.Status = HttpStatusCode.OK;
        _backend.Delay = TimeSpan.FromMilliseconds(300);
        time.Advance(TimeSpan.FromSeconds(5));
        var before = _backend.Requests;
        var calls = Enumerable.Range(0, 5).Select(_ => client.GetAsync("http://inventory/items")).ToList();
        var results = await Task.WhenAll(calls.Select(async c =>
        {
            try
            {
                using var response = await c;
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (MeshCircuitOpenException)
            {
                return false;
            }
        }));

        Assert.Equal(1, results.Count(ok => ok));
        Assert.Equal(before + 1, _backend.Requests);
        using var closed = await client.GetAsync("http://inventory/items");
        Assert.Equal(HttpStatusCode.OK, closed.StatusCode);
    }
}
