using System.Diagnostics.Metrics;
using Mesh.Balancing;
using Mesh.Utilities;
using Mesh.ControlPlane;
using Mesh.Discovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.ControlPlane;

/// <summary>
/// How a client applies what the control plane pushes, against a stub that can send what the real control plane never
/// would: snapshots are validated whole, local settings override pushed ones per field, the cache starts a client.
/// </summary>
public sealed class SnapshotTests : IAsyncLifetime
{
    private TestBackend[] _backends = [];
    private StubControlPlane _stub = null!;
    private string _cache = "";

    public async Task InitializeAsync()
    {
        _backends = await TestBackend.StartManyAsync(2);
        _stub = await StubControlPlane.StartAsync();
        _cache = Directory.CreateTempSubdirectory("mesh-cp-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _stub.DisposeAsync();
        await _backends.DisposeAllAsync();
        Directory.Delete(_cache, recursive: true);
    }

    [Fact]
    public async Task A_snapshot_the_client_cannot_apply_is_refused_whole_the_last_good_stays_and_the_refusal_is_logged_and_counted()
    {
        _stub.Publish(Service("inventory", """{ "LoadBalancer": "RoundRobin" }""", _backends[0]));
        using var host = MeshTestHost.Create(Settings(_stub.Address, _cache));
        using var rejected = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.control_plane.snapshot.rejected");
        var client = host.Client;
        Assert.Equal("b0", await BackendOfAsync(client));

        // A newer control plane's field this client does not know, with a new instance: neither may be applied.
        _stub.Publish(Service("inventory", """{ "LoadBalancer": "RoundRobin", "Retry": { "MaxAttempts": 2, "Jitter": "decorrelated" } }""", _backends[1]));
        await Eventually.WaitAsync(() => rejected.GetMeasurementSnapshot().Count == 1, "the refusal to be counted");

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("b0", await BackendOfAsync(client));
        }

        var warning = Assert.Single(host.Logs.Entries, e => e.Category == ControlPlaneWatcher.LogCategory && e.Level == LogLevel.Warning && e.Message.Contains("refused whole", StringComparison.Ordinal));
        Assert.Contains("Jitter", warning.Message, StringComparison.Ordinal);
        Assert.Contains("snapshot 1 stays in force", warning.Message, StringComparison.Ordinal);
        Assert.Equal(1, host.Services.GetRequiredService<ControlPlaneWatcher>().Rejected);

        // The next good snapshot is applied.
        var before = host.Catalog.Version;
        _stub.Publish(Service("inventory", """{ "LoadBalancer": "RoundRobin" }""", _backends[1]));
        await Eventually.WaitAsync(() => host.Catalog.Version > before, "the next good snapshot");
        Assert.Equal("b1", await BackendOfAsync(client));
        Assert.Single(rejected.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task A_snapshot_with_an_unusable_instance_address_is_refused_whole()
    {
        _stub.Publish(Service("inventory", "null", _backends[0]));
        using var host = MeshTestHost.Create(Settings(_stub.Address, _cache));
        Assert.Equal("b0", await BackendOfAsync(host.Client));
        var controlPlane = host.Services.GetRequiredService<ControlPlaneWatcher>();

        _stub.Publish($$"""{ "inventory": { "policy": null, "instances": [ { "instanceId": "ok", "address": "{{_backends[1].Address}}" }, { "instanceId": "bad", "address": "http://127.0.0.1:1/v2" } ] } }""");
        await Eventually.WaitAsync(() => controlPlane.Rejected == 1, "the refusal");

        Assert.Equal(1, controlPlane.Current.Version);
        Assert.Equal("b0", await BackendOfAsync(host.Client));
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("services:inventory:instances:1:address", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Local_settings_override_pushed_ones_per_field_and_local_endpoints_replace_registered_instances()
    {
        var settings = Settings(_stub.Address, _cache);
        settings["Mesh:Services:inventory:Retry:MaxAttempts"] = "2";
        settings["Mesh:Services:orders:Endpoints:0"] = _backends[1].Address.ToString();
        _stub.Publish("{ " + Entry("inventory", """{ "LoadBalancer": "RoundRobin", "Retry": { "MaxAttempts": 5, "Backoff": "00:00:00.010" } }""", _backends[0])
            + ", " + Entry("orders", """{ "LoadBalancer": "Random" }""", _backends[0]) + " }");
        using var host = MeshTestHost.Create(settings);
        await host.StartAsync();

        Assert.True(host.Catalog.TryGetService("inventory", out var inventory));
        Assert.Equal(LoadBalancerNames.RoundRobin, inventory.Options.LoadBalancer);
        Assert.Equal(2, inventory.Options.Retry.MaxAttempts);
        Assert.Equal(TimeSpan.FromMilliseconds(10), inventory.Options.Retry.Backoff);

        Assert.True(host.Catalog.TryGetService("orders", out var orders));
        Assert.Equal(LoadBalancerNames.Random, orders.Options.LoadBalancer);
        Assert.Equal("b1", await BackendOfAsync(host.Client, "orders"));
    }

    [Fact]
    public async Task A_service_with_a_policy_and_no_instance_fails_with_MeshEndpointUnavailableException()
    {
        _stub.Publish("""{ "inventory": { "policyVersion": 1, "policy": { "LoadBalancer": "RoundRobin" }, "instances": [] } }""");
        using var host = MeshTestHost.Create(Settings(_stub.Address, _cache));

        var error = await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://inventory/items"));

        Assert.Equal("inventory", error.ServiceName);
        Assert.Contains("no registered instance", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_started_while_the_control_plane_is_down_routes_from_its_cache_and_ignores_a_damaged_one()
    {
        _stub.Publish(Service("inventory", """{ "LoadBalancer": "RoundRobin" }""", _backends[0]));
        using (var first = MeshTestHost.Create(Settings(_stub.Address, _cache)))
        {
            Assert.Equal("b0", await BackendOfAsync(first.Client));
        }

        var cacheFile = Path.Combine(_cache, ControlPlaneWatcher.CacheFileName);
        Assert.True(File.Exists(cacheFile));
        Assert.Empty(Directory.GetFiles(_cache, "*.tmp"));

        // No control plane at this address: the client starts at once, from the cache.
        using var closed = LoopbackPorts.Closed();
        var down = Settings(closed.Address, _cache);
        var started = System.Diagnostics.Stopwatch.StartNew();
        using (var second = MeshTestHost.Create(down))
        {
            Assert.Equal("b0", await BackendOfAsync(second.Client));
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(2), $"start-up from the cache took {started.Elapsed}");
        }

        // A damaged cache file is refused whole like a bad push, logged and counted; the client starts without it.
        await File.WriteAllTextAsync(cacheFile, """{ "version": 9, "services": { "inventory": { "policy": { "Retry": { "MaxAttempts": 0 } }, "instances": [] } } }""");
        down["Mesh:ControlPlane:StartupWait"] = "00:00:00";
        using var third = MeshTestHost.Create(down);
        await third.StartAsync();
        Assert.False(third.Catalog.TryGetService("inventory", out _));
        Assert.Equal(1, third.Services.GetRequiredService<ControlPlaneWatcher>().Rejected);
        Assert.Contains(third.Logs.Entries, e => e.Message.Contains("from cache refused whole", StringComparison.Ordinal) && e.Message.Contains("Retry:MaxAttempts", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Several_addresses_are_tried_in_turn_when_one_fails()
    {
        _stub.Publish(Service("inventory", """{ "LoadBalancer": "RoundRobin" }""", _backends[0]));
        using var closed = LoopbackPorts.Closed();
        var settings = Settings(closed.Address, _cache);
        settings["Mesh:ControlPlane:Addresses:0"] = _stub.Address.ToString();
        using var host = MeshTestHost.Create(settings);

        Assert.Equal("b0", await BackendOfAsync(host.Client));
        Assert.Equal(2, host.Services.GetRequiredService<ControlPlaneWatcher>().Addresses.Count);
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("unreachable", StringComparison.Ordinal));
    }

    [Fact]
    public void Back_off_is_full_jitter_under_a_doubling_ceiling_capped_at_five_seconds()
    {
        var random = MeshRandom.Seeded(7);
        for (var failures = 1; failures <= 12; failures++)
        {
            var ceiling = Math.Min(5000, 100 * Math.Pow(2, failures - 1));
            var delays = Enumerable.Range(0, 200).Select(_ => MeshdClient.Backoff(failures, random).TotalMilliseconds).ToList();
            Assert.All(delays, d => Assert.InRange(d, 0, ceiling));

            // Spread over the whole range, so clients reconnecting after a restart do not arrive together.
            Assert.True(delays.Min() < ceiling * 0.1 && delays.Max() > ceiling * 0.9, $"after {failures} failures: {delays.Min()}..{delays.Max()} of {ceiling}");
        }
    }

    [Theory]
    [InlineData("Mesh:ControlPlane:Address", "ftp://meshd", "Mesh:ControlPlane:Address: 'ftp://meshd'")]
    [InlineData("Mesh:ControlPlane:WaitTime", "00:05:00", "Mesh:ControlPlane:WaitTime: 00:05:00 is out of range")]
    [InlineData("Mesh:ControlPlane:Token", "two words", "Mesh:ControlPlane:Token: the token is empty or holds white space")]
    public void Invalid_control_plane_settings_stop_start_up_naming_the_field(string key, string value, string expected)
    {
        using var host = MeshTestHost.Create(new Dictionary<string, string?> { ["Mesh:ControlPlane:Address"] = "http://127.0.0.1:1", [key] = value });

        var error = Assert.Throws<OptionsValidationException>(() => host.Catalog);

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("two words", error.Message, StringComparison.Ordinal);
    }

    internal static Dictionary<string, string?> Settings(Uri controlPlane, string cache) => new()
    {
        ["Mesh:ControlPlane:Address"] = controlPlane.ToString(),
        ["Mesh:ControlPlane:CacheDirectory"] = cache,
        ["Mesh:ControlPlane:WaitTime"] = "00:00:05",
    };

    /// <summary>The JSON of a <c>services</c> object with one service.</summary>
    internal static string Service(string name, string policy, params TestBackend[] instances) => "{ " + Entry(name, policy, instances) + " }";

    /// <summary>The JSON of one service's entry in a <c>services</c> object.</summary>
    internal static string Entry(string name, string policy, params TestBackend[] instances) =>
        $$"""
        "{{name}}": { "policyVersion": 1, "policy": {{policy}}, "instances": [ {{string.Join(", ", instances.Select(b => $$"""{ "instanceId": "{{b.Name}}", "address": "{{b.Address}}" }"""))}} ] }
        """;

    internal static async Task<string> BackendOfAsync(HttpClient client, string service = "inventory")
    {
        using var response = await client.GetAsync($"http://{service}/items");
        response.EnsureSuccessStatusCode();
        return (await TestBackend.ReadEchoAsync(response)).Backend;
    }
}
