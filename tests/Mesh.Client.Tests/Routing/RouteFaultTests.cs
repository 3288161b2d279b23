using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Mesh.CircuitBreaking;
using Mesh.Utilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// Faults a route injects, against a real backend on loopback: the configured shares are delayed and aborted within ±2
/// points over 5000 requests (each fault seen on the call's span and on <c>mesh.client.faults</c>), other routes and
/// unmatched requests are untouched, and retries and the breaker treat an injected abort as a server's answer.
/// </summary>
public sealed class RouteFaultTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private const string Service = "faulty";
    private const string R = $"Mesh:Services:{Service}:Routes";
    private readonly ConcurrentQueue<Activity> _calls = new();
    private readonly ActivityListener _listener = new();
    private TestBackend _backend = null!;

    public async Task InitializeAsync()
    {
        // Only this class's service: the listener sees every test's mesh spans.
        _listener.ShouldListenTo = source => source.Name == "Mesh";
        _listener.Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded;
        _listener.ActivityStopped = activity =>
        {
            if (activity.Kind == ActivityKind.Internal && activity.GetTagItem("mesh.service") as string == Service)
            {
                _calls.Enqueue(activity);
            }
        };
        ActivitySource.AddActivityListener(_listener);
        _backend = await TestBackend.StartAsync("b");
    }

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task The_configured_shares_are_delayed_and_aborted_within_two_points_and_other_traffic_is_untouched()
    {
        const int Requests = 5000;
        using var host = Host(new()
        {
            [$"{R}:0:Name"] = "chaos",
            [$"{R}:0:Match:Path:Value"] = "/chaos",
            [$"{R}:0:Retry:MaxAttempts"] = "1",
            [$"{R}:0:Fault:Delay:Percent"] = "10",
            [$"{R}:0:Fault:Delay:Duration"] = "00:00:00.001",
            [$"{R}:0:Fault:Abort:Percent"] = "20.5",
            [$"{R}:0:Fault:Abort:HttpStatus"] = "503",
            [$"{R}:1:Name"] = "calm",
            [$"{R}:1:Match:Path:Value"] = "/calm",
        });
        using var faults = Faults(host);
        var client = host.Client;
        var statuses = new ConcurrentDictionary<HttpStatusCode, int>();

        await Load.RunAsync(Requests, 8, async _ =>
        {
            using var response = await client.GetAsync($"http://{Service}/chaos/items");
            statuses.AddOrUpdate(response.StatusCode, 1, (_, n) => n + 1);
        });

        var chaos = _calls.Where(c => c.GetTagItem("mesh.route") as string == "chaos").ToList();
        var delayed = chaos.Count(c => (c.GetTagItem("mesh.fault") as string)?.Contains("delay", StringComparison.Ordinal) == true);
        var aborted = chaos.Count(c => (c.GetTagItem("mesh.fault") as string)?.Contains("abort", StringComparison.Ordinal) == true);
        output.WriteLine($"of {Requests}: {delayed} delayed ({delayed / (double)Requests:P2}, configured 10 %), {aborted} aborted ({aborted / (double)Requests:P2}, configured 20.5 %); backend saw {_backend.Requests}.");
        Assert.Equal(Requests, chaos.Count);
        Assert.InRange(delayed / (double)Requests, 0.08, 0.12);
        Assert.InRange(aborted / (double)Requests, 0.185, 0.225);
        Assert.Equal(aborted, statuses.GetValueOrDefault(HttpStatusCode.ServiceUnavailable));
        Assert.Equal(Requests - aborted, statuses.GetValueOrDefault(HttpStatusCode.OK));
        Assert.Equal(Requests - aborted, _backend.Requests);
        Assert.Equal(delayed, Count(faults, "chaos", "delay"));
        Assert.Equal(aborted, Count(faults, "chaos", "abort"));

        // Another route of the service, and requests no route takes: no fault at all.
        _calls.Clear();
        var before = _backend.Requests;
        await Load.RunAsync(1000, 8, i => Load.GetOkAsync(client, i % 2 == 0 ? $"http://{Service}/calm/items" : $"http://{Service}/free"));
        Assert.Equal(1000, _backend.Requests - before);
        Assert.Equal(1000, _calls.Count);
        Assert.All(_calls, c => Assert.Null(c.GetTagItem("mesh.fault")));
        Assert.Equal(500, _calls.Count(c => c.GetTagItem("mesh.route") as string == "calm"));
        Assert.Equal(500, _calls.Count(c => c.GetTagItem("mesh.route") is null));
        Assert.Equal(delayed + aborted, faults.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [Fact]
    public async Task An_injected_503_is_retried_by_the_routes_retry_and_the_retries_reach_the_backend()
    {
        using var host = Host(new()
        {
            [$"Mesh:Services:{Service}:Retry:Budget:Ratio"] = "1",
            [$"Mesh:Services:{Service}:Retry:Budget:MinPerSecond"] = "100000",
            [$"{R}:0:Retry:MaxAttempts"] = "10",
            [$"{R}:0:Retry:Backoff"] = "00:00:00",
            [$"{R}:0:Retry:MaxBackoff"] = "00:00:00",
            [$"{R}:0:Fault:Abort:Percent"] = "30",
            [$"{R}:0:Fault:Abort:HttpStatus"] = "503",
        });
        using var faults = Faults(host);
        var client = host.Client;

        for (var i = 0; i < 200; i++)
        {
            await Load.GetOkAsync(client, $"http://{Service}/items");
        }

        // Every call ended at the backend once; each abort was an attempt that the route's retry tried again.
        var aborts = Count(faults, "#0", "abort");
        output.WriteLine($"200 calls: {aborts} aborts, {host.Catalog.CountersOf(Service).Retries} retries.");
        Assert.Equal(200, _backend.Requests);
        Assert.InRange(aborts, 30, 120);
        Assert.Equal(aborts, host.Catalog.CountersOf(Service).Retries);
        Assert.Equal(aborts + 200, _calls.Sum(c => (int)c.GetTagItem("mesh.attempts")!));
    }

    [Fact]
    public async Task Aborts_on_every_attempt_use_up_the_routes_attempts_and_leave_the_503_to_the_caller()
    {
        using var host = Host(new()
        {
            [$"{R}:0:Retry:MaxAttempts"] = "3",
            [$"{R}:0:Retry:Backoff"] = "00:00:00",
            [$"{R}:0:Retry:MaxBackoff"] = "00:00:00",
            [$"{R}:0:Fault:Abort:Percent"] = "100",
            [$"{R}:0:Fault:Abort:HttpStatus"] = "503",
        });
        using var faults = Faults(host);

        using var response = await host.Client.GetAsync($"http://{Service}/items");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(string.Empty, await response.Content.ReadAsStringAsync());
        Assert.Equal(0, _backend.Requests);
        Assert.Equal(3, Count(faults, "#0", "abort"));
        Assert.Equal(2, host.Catalog.CountersOf(Service).Retries);
    }

    [Fact]
    public async Task Injected_aborts_open_the_service_breaker_at_its_threshold_for_every_route()
    {
        using var host = Host(new()
        {
            [$"Mesh:Services:{Service}:CircuitBreaker:Enabled"] = "true",
            [$"Mesh:Services:{Service}:CircuitBreaker:FailureRatio"] = "0.5",
            [$"Mesh:Services:{Service}:CircuitBreaker:MinimumThroughput"] = "10",
            [$"Mesh:Services:{Service}:CircuitBreaker:SamplingDuration"] = "00:10:00",
            [$"Mesh:Services:{Service}:CircuitBreaker:BreakDuration"] = "00:10:00",
            [$"{R}:0:Match:Path:Value"] = "/chaos",
            [$"{R}:0:Retry:MaxAttempts"] = "1",
            [$"{R}:0:Fault:Abort:Percent"] = "100",
            [$"{R}:0:Fault:Abort:HttpStatus"] = "503",
        });
        using var faults = Faults(host);
        var client = host.Client;

        // Nine failures are below the breaker's minimum throughput; the tenth opens it.
        for (var i = 0; i < 10; i++)
        {
            using var response = await client.GetAsync($"http://{Service}/chaos");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(i < 9 ? "closed" : "open", host.Catalog.TryGetService(Service, out var service) ? service.Policy.BreakerState : null);
        }

        await Assert.ThrowsAsync<MeshCircuitOpenException>(() => client.GetAsync($"http://{Service}/chaos"));
        await Assert.ThrowsAsync<MeshCircuitOpenException>(() => client.GetAsync($"http://{Service}/elsewhere"));
        Assert.Equal(10, Count(faults, "#0", "abort"));
        Assert.Equal(0, _backend.Requests);
    }

    [Fact]
    public async Task The_breaker_opened_by_injected_aborts_stays_open_when_a_reload_removes_the_fault()
    {
        var routes = new Dictionary<string, string?>
        {
            [$"Mesh:Services:{Service}:CircuitBreaker:Enabled"] = "true",
            [$"Mesh:Services:{Service}:CircuitBreaker:MinimumThroughput"] = "2",
            [$"Mesh:Services:{Service}:CircuitBreaker:BreakDuration"] = "00:10:00",
            [$"{R}:0:Retry:MaxAttempts"] = "1",
            [$"{R}:0:Fault:Abort:Percent"] = "100",
            [$"{R}:0:Fault:Abort:HttpStatus"] = "500",
        };
        using var host = Host(routes);
        var client = host.Client;
        for (var i = 0; i < 2; i++)
        {
            using var response = await client.GetAsync($"http://{Service}/items");
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        }

        var version = host.Catalog.Version;
        var reloaded = new Dictionary<string, string?>(Config(routes));
        reloaded.Remove($"{R}:0:Fault:Abort:Percent");
        reloaded.Remove($"{R}:0:Fault:Abort:HttpStatus");
        reloaded[$"{R}:0:Name"] = "healed";
        host.Configuration.Replace(reloaded);
        await Eventually.WaitAsync(() => host.Catalog.Version > version, "the reload to apply");

        // The route changed, the service's resilience settings did not: the same breaker, still open.
        await Assert.ThrowsAsync<MeshCircuitOpenException>(() => client.GetAsync($"http://{Service}/items"));
        Assert.Equal(0, _backend.Requests);
    }

    [Fact]
    public async Task A_delay_ends_with_the_calls_timeout()
    {
        using var host = Host(new()
        {
            [$"{R}:0:Timeout"] = "00:00:00.200",
            [$"{R}:0:Fault:Delay:Percent"] = "100",
            [$"{R}:0:Fault:Delay:Duration"] = "00:01:00",
        });
        var watch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => host.Client.GetAsync($"http://{Service}/items"));

        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"the call took {watch.Elapsed}, as if the delay ignored the deadline");
        Assert.Equal(0, _backend.Requests);
    }

    private static long Count(MetricCollector<long> faults, string route, string kind) =>
        faults.GetMeasurementSnapshot()
            .Where(m => m.Tags["mesh.service"] as string == Service && m.Tags["mesh.route"] as string == route && m.Tags["mesh.fault"] as string == kind)
            .Sum(m => m.Value);

    private static MetricCollector<long> Faults(MeshTestHost host) =>
        new(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.faults");

    private MeshTestHost Host(Dictionary<string, string?> routes) =>
        MeshTestHost.Create(Config(routes), services => services.AddSingleton(MeshRandom.Seeded(5000)));

    private Dictionary<string, string?> Config(Dictionary<string, string?> routes)
    {
        var config = new Dictionary<string, string?>
        {
            [$"Mesh:Services:{Service}:Endpoints:0:Address"] = _backend.Address.ToString(),
            [$"Mesh:Services:{Service}:CircuitBreaker:Enabled"] = "false",
            [$"Mesh:Services:{Service}:OutlierDetection:Enabled"] = "false",
        };
        foreach (var (key, value) in routes)
        {
            config[key] = value;
        }

        return config;
    }
}
