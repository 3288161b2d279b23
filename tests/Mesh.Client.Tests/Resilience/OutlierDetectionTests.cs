using System.Net;
using Mesh.Balancing;
using Mesh.Discovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Resilience;

/// <summary>Ejection after consecutive failures, for longer each time up to the cap, never above MaxEjectionPercent.</summary>
public sealed class OutlierDetectionTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
    private TestBackend[] _backends = [];

    public async Task InitializeAsync() => _backends = await TestBackend.StartManyAsync(4);

    public async Task DisposeAsync()
    {
        await _backends.DisposeAllAsync();
    }

    [Fact]
    public async Task Ejection_time_grows_with_each_ejection_up_to_the_cap()
    {
        _backends[0].Status = HttpStatusCode.InternalServerError;
        using var host = Host(maxEjectionPercent: 50);
        var client = host.Client;
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        var failing = service.Destination.Endpoints[0];

        // Ejections 1, 2, 3 and 4 last 10 s, 20 s, then 25 s (the cap) twice; each up to 10% shorter, never longer.
        foreach (var expected in new[] { 10, 20, 25, 25 })
        {
            await SendUntilAsync(client, () => failing.Ejection.IsEjected(_time.GetTimestamp()));
            Assert.DoesNotContain(failing, service.Destination.Available);
            for (var i = 0; i < 20; i++)
            {
                using var response = await client.GetAsync("http://inventory/items");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            _time.Advance(TimeSpan.FromSeconds(expected * 0.9) - TimeSpan.FromMilliseconds(1));
            Assert.True(failing.Ejection.IsEjected(_time.GetTimestamp()), $"ejection {failing.Ejection.Ejections} ended before {expected * 0.9} s");
            _time.Advance(TimeSpan.FromSeconds(expected * 0.1) + TimeSpan.FromMilliseconds(5));
            Assert.False(failing.Ejection.IsEjected(_time.GetTimestamp()), $"ejection {failing.Ejection.Ejections} lasted past {expected} s");
            Assert.Contains(failing, service.Destination.Available);
        }

        Assert.Equal(4, failing.Ejection.Ejections);
        Assert.Equal(4, host.Catalog.CountersOf("inventory").Ejections);
    }

    [Fact]
    public async Task No_more_than_MaxEjectionPercent_of_the_endpoints_are_ejected_at_once()
    {
        for (var i = 0; i < 3; i++)
        {
            _backends[i].Status = HttpStatusCode.InternalServerError;
        }

        using var host = Host(maxEjectionPercent: 50);
        var client = host.Client;
        Assert.True(host.Catalog.TryGetService("inventory", out var service));

        for (var i = 0; i < 200; i++)
        {
            using var response = await client.GetAsync("http://inventory/items");
            var now = _time.GetTimestamp();
            Assert.True(service.Destination.Endpoints.Count(e => e.Ejection.IsEjected(now)) <= 2, "more than half of the endpoints are ejected");
        }

        var end = _time.GetTimestamp();
        Assert.Equal(2, service.Destination.Endpoints.Count(e => e.Ejection.IsEjected(end)));
        Assert.False(service.Destination.Endpoints[3].Ejection.IsEjected(end));
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("is not ejected", StringComparison.Ordinal));
    }

    [Fact]
    public async Task One_endpoint_may_always_be_ejected_even_at_zero_percent()
    {
        _backends[0].Status = HttpStatusCode.InternalServerError;
        using var host = Host(maxEjectionPercent: 0);
        var client = host.Client;
        Assert.True(host.Catalog.TryGetService("inventory", out var service));

        await SendUntilAsync(client, () => service.Destination.Endpoints[0].Ejection.IsEjected(_time.GetTimestamp()));

        Assert.Equal(3, service.Destination.Available.Length);
    }

    [Fact]
    public async Task An_endpoint_ejected_when_outlier_detection_is_switched_off_is_used_again_at_once()
    {
        _backends[0].Status = HttpStatusCode.InternalServerError;
        using var host = Host(maxEjectionPercent: 50, out var config);
        var client = host.Client;
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        await SendUntilAsync(client, () => service.Destination.Endpoints[0].Ejection.IsEjected(_time.GetTimestamp()));
        _backends[0].Status = HttpStatusCode.OK;

        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        host.Configuration.Replace(config);
        Assert.True(host.Catalog.TryGetService("inventory", out service));
        Assert.Equal(4, service.Destination.Available.Length);
        var before = _backends[0].Requests;
        await SendAsync(client, 40);
        Assert.Equal(10, _backends[0].Requests - before);

        // And past the ejection time too: nothing is left that would bring it back later or take it out again.
        _time.Advance(TimeSpan.FromSeconds(30));
        before = _backends[0].Requests;
        await SendAsync(client, 40);
        Assert.Equal(10, _backends[0].Requests - before);
        Assert.Equal(0, service.Destination.EjectedCount());
    }

    [Fact]
    public async Task A_change_of_outlier_detection_options_starts_afresh_so_no_ejection_outlives_the_detector_that_made_it()
    {
        _backends[0].Status = HttpStatusCode.InternalServerError;
        using var host = Host(maxEjectionPercent: 50, out var config);
        var client = host.Client;
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        await SendUntilAsync(client, () => service.Destination.Endpoints[0].Ejection.IsEjected(_time.GetTimestamp()));
        _backends[0].Status = HttpStatusCode.OK;

        config["Mesh:Services:inventory:OutlierDetection:ConsecutiveFailures"] = "5";
        host.Configuration.Replace(config);
        Assert.True(host.Catalog.TryGetService("inventory", out service));
        Assert.Equal(4, service.Destination.Available.Length);
        var before = _backends[0].Requests;
        await SendAsync(client, 40);
        Assert.Equal(10, _backends[0].Requests - before);

        // The new detector ejects by its own options: five failures in a row now.
        _backends[0].Status = HttpStatusCode.InternalServerError;
        await SendUntilAsync(client, () => service.Destination.Endpoints[0].Ejection.IsEjected(_time.GetTimestamp()));
        Assert.Equal(3, service.Destination.Available.Length);
    }

    [Fact]
    public async Task A_call_that_found_no_endpoint_to_reach_names_those_it_skipped_because_they_were_ejected()
    {
        _backends[0].Status = HttpStatusCode.InternalServerError;
        using var host = Host(maxEjectionPercent: 50);
        var client = host.Client;
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        await SendUntilAsync(client, () => service.Destination.Endpoints[0].Ejection.IsEjected(_time.GetTimestamp()));
        foreach (var backend in _backends.Skip(1))
        {
            await backend.DisposeAsync();
        }

        var failure = await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => client.GetAsync("http://inventory/items"));
        Assert.Equal(3, failure.EndpointsTried.Count);
        Assert.DoesNotContain(_backends[0].Address, failure.EndpointsTried);
        Assert.Contains($"Skipped 1 ejected by outlier detection: {_backends[0].Address.GetLeftPart(UriPartial.Authority)}.", failure.Message, StringComparison.Ordinal);
    }

    private static async Task SendAsync(HttpClient client, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var response = await client.GetAsync("http://inventory/items");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private MeshTestHost Host(int maxEjectionPercent) => Host(maxEjectionPercent, out _);

    private MeshTestHost Host(int maxEjectionPercent, out Dictionary<string, string?> config)
    {
        config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends);
        config["Mesh:Services:inventory:Retry:Enabled"] = "false";
        config["Mesh:Services:inventory:CircuitBreaker:Enabled"] = "false";
        config["Mesh:Services:inventory:OutlierDetection:ConsecutiveFailures"] = "3";
        config["Mesh:Services:inventory:OutlierDetection:BaseEjectionTime"] = "00:00:10";
        config["Mesh:Services:inventory:OutlierDetection:MaxEjectionTime"] = "00:00:25";
        config["Mesh:Services:inventory:OutlierDetection:MaxEjectionPercent"] = maxEjectionPercent.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return MeshTestHost.Create(config, s => s.AddSingleton<TimeProvider>(_time));
    }

    private static async Task SendUntilAsync(HttpClient client, Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            using var response = await client.GetAsync("http://inventory/items");
        }

        Assert.True(condition(), "the condition never held");
    }
}
