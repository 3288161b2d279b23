using Mesh.Balancing;
using Mesh.Retry;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Balancing;

/// <summary>
/// A caller with a zone over six real backends in three zones (a, a, b, b, c, c): it keeps to its zone while enough of the
/// zone is available, and spills over to the others, without a failed request, when the zone's endpoints refuse
/// connections or are ejected.
/// </summary>
public sealed class ZoneAwareTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] s_zones = ["a", "a", "b", "b", "c", "c"];
    private TestBackend[] _backends = [];

    public async Task InitializeAsync() => _backends = await TestBackend.StartManyAsync(s_zones.Length);

    public async Task DisposeAsync() => await _backends.DisposeAllAsync();

    [Theory]
    [InlineData(LoadBalancerNames.PeakEwma)]
    [InlineData(LoadBalancerNames.RoundRobin)]
    [InlineData(LoadBalancerNames.LeastRequest)]
    public async Task A_caller_in_zone_a_sends_every_request_to_zone_a_while_it_is_healthy(string balancer)
    {
        using var host = MeshTestHost.Create(Config(balancer, zone: "a"));
        var client = host.Client;

        var ok = await Load.RunAsync(1000, 8, i => Load.GetOkAsync(client, $"http://inventory/items/{i}"));

        Assert.Equal(1000, ok);
        output.WriteLine($"{balancer}: {Counts()}");
        var local = _backends[0].Requests + _backends[1].Requests;
        Assert.True(local >= 950, $"zone a took {local} of 1000 requests: {Counts()}");
        Assert.True(_backends[0].Requests > 0 && _backends[1].Requests > 0, $"one of zone a's endpoints took nothing: {Counts()}");
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        Assert.True(service.Destination.PrefersLocalZone);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("a", "false")]
    [InlineData("d", null)]
    public async Task A_caller_with_no_zone_zone_awareness_off_or_a_zone_without_endpoints_spreads_over_all(string? zone, string? enabled)
    {
        var config = Config(LoadBalancerNames.RoundRobin, zone);
        config["Mesh:Services:inventory:ZoneAware:Enabled"] = enabled;
        using var host = MeshTestHost.Create(config);
        var client = host.Client;

        var ok = await Load.RunAsync(1200, 8, i => Load.GetOkAsync(client, $"http://inventory/items/{i}"));

        output.WriteLine($"zone {zone ?? "none"}, enabled {enabled ?? "default"}: {Counts()}");
        Assert.Equal(1200, ok);
        Assert.All(_backends, b => Assert.Equal(200, b.Requests));
    }

    [Fact]
    public async Task Zone_a_stopped_under_load_fails_over_to_the_other_zones_with_no_failed_request()
    {
        // A backend that stops closes its kept-alive connections, and a GET caught on one as it closes ends in a reset,
        // which the default retry conditions leave alone (the request may have been processed): these GETs retry it.
        var config = Config(LoadBalancerNames.PeakEwma, zone: "a");
        config["Mesh:Services:inventory:Retry:On:0"] = RetryOn.ConnectFailure;
        config["Mesh:Services:inventory:Retry:On:1"] = RetryOn.Reset;
        config["Mesh:Services:inventory:Retry:On:2"] = "503";
        using var host = MeshTestHost.Create(config);
        var client = host.Client;
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long[] atStop = [];

        var ok = await Load.RunAsync(2000, 16, async i =>
        {
            if (i == 1000)
            {
                _ = Task.WhenAll(_backends[0].StopAsync(), _backends[1].StopAsync()).ContinueWith(t => stopped.TrySetResult(), TaskScheduler.Default);
            }
            else if (i >= 1100)
            {
                // Calls up to 1100 race the stop; the rest go once it has taken effect.
                await stopped.Task.WaitAsync(TimeSpan.FromSeconds(30));
            }

            await Load.GetOkAsync(client, $"http://inventory/items/{i}");
        });
        await stopped.Task;

        output.WriteLine($"{ok} of 2000 succeeded: {Counts()}");
        Assert.Equal(2000, ok);
        var local = _backends[0].Requests + _backends[1].Requests;
        var remote = _backends.Skip(2).Sum(b => b.Requests);
        Assert.True(local >= 950, $"zone a took {local} requests before it stopped: {Counts()}");
        Assert.True(remote >= 900, $"zones b and c took {remote} requests: {Counts()}");
        Assert.All(_backends.Skip(2), b => Assert.True(b.Requests > 0, $"{b.Name} took nothing: {Counts()}"));
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        var now = TimeProvider.System.GetTimestamp();
        // The first of zone a's endpoints ejected puts the zone below 70% and spreads traffic over every zone; the second
        // is then picked rarely enough that it need not fail five times in a row before the load ends.
        Assert.Contains(service.Destination.Endpoints.Take(2), e => e.Ejection.IsEjected(now));
        Assert.False(service.Destination.PrefersLocalZone);
    }

    [Fact]
    public async Task A_refused_connection_moves_the_attempt_to_the_other_local_endpoint_first()
    {
        // Without ejection, the stopped endpoint stays in the set: every attempt that picks it must fail over within the zone.
        var config = Config(LoadBalancerNames.RoundRobin, zone: "a");
        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        config["Mesh:Services:inventory:Retry:MaxAttempts"] = "1";
        using var host = MeshTestHost.Create(config);
        var client = host.Client;
        await _backends[0].StopAsync();

        var ok = await Load.RunAsync(400, 8, i => Load.GetOkAsync(client, $"http://inventory/items/{i}"));

        Assert.Equal(400, ok);
        Assert.Equal(400, _backends[1].Requests);
        Assert.All(_backends.Skip(2), b => Assert.Equal(0, b.Requests));
    }

    [Fact]
    public async Task With_both_local_endpoints_refusing_and_no_ejection_each_attempt_spills_to_another_zone()
    {
        var config = Config(LoadBalancerNames.RoundRobin, zone: "a");
        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        config["Mesh:Services:inventory:Retry:MaxAttempts"] = "1";
        using var host = MeshTestHost.Create(config);
        var client = host.Client;
        await _backends[0].StopAsync();
        await _backends[1].StopAsync();

        var ok = await Load.RunAsync(400, 8, i => Load.GetOkAsync(client, $"http://inventory/items/{i}"));

        // One attempt each: a connection refused by a0, one by a1, then the third endpoint tried is in zone b or c.
        Assert.Equal(400, ok);
        Assert.Equal(400, _backends.Skip(2).Sum(b => b.Requests));
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        Assert.True(service.Destination.PrefersLocalZone);
    }

    [Theory]
    [InlineData(70, false)]
    [InlineData(50, true)]
    public async Task One_of_two_local_endpoints_ejected_keeps_the_zone_only_at_or_above_the_healthy_share(int minHealthyPercent, bool staysLocal)
    {
        var config = Config(LoadBalancerNames.RoundRobin, zone: "a");
        config["Mesh:Services:inventory:ZoneAware:MinHealthyPercent"] = minHealthyPercent.ToString(System.Globalization.CultureInfo.InvariantCulture);
        config["Mesh:Services:inventory:OutlierDetection:ConsecutiveFailures"] = "1";
        using var host = MeshTestHost.Create(config);
        var client = host.Client;
        Assert.True(host.Catalog.TryGetService("inventory", out var before));
        _backends[0].Status = System.Net.HttpStatusCode.ServiceUnavailable;

        // The first 503 ejects a0 (the retry answers the call); wait for the set without it.
        await Eventually.WaitAsync(async () =>
        {
            await Load.GetOkAsync(client, "http://inventory/items/0");
            return before.Destination.Endpoints[0].Ejection.IsEjected(TimeProvider.System.GetTimestamp());
        }, "a0 ejected");
        var counts = _backends.Select(b => b.Requests).ToArray();

        var ok = await Load.RunAsync(600, 4, i => Load.GetOkAsync(client, $"http://inventory/items/{i}"));

        Assert.Equal(600, ok);
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        Assert.Equal(staysLocal, service.Destination.PrefersLocalZone);
        var remote = _backends.Skip(2).Select((b, i) => b.Requests - counts[i + 2]).Sum();
        Assert.Equal(0, _backends[0].Requests - counts[0]);
        if (staysLocal)
        {
            Assert.Equal(0, remote);
            Assert.Equal(600, _backends[1].Requests - counts[1]);
        }
        else
        {
            // Round robin over the five available endpoints: a1 and each of the four others take a fifth.
            Assert.Equal(480, remote);
            Assert.Equal(120, _backends[1].Requests - counts[1]);
        }
    }

    private Dictionary<string, string?> Config(string balancer, string? zone)
    {
        var config = MeshTestHost.ServiceConfig("inventory", balancer, _backends);
        for (var i = 0; i < _backends.Length; i++)
        {
            config[$"Mesh:Services:inventory:Endpoints:{i}:Zone"] = s_zones[i];
        }

        config["Mesh:Zone"] = zone;
        return config;
    }

    private string Counts() => string.Join(", ", _backends.Select((b, i) => $"{b.Name}({s_zones[i]})={b.Requests}"));
}
