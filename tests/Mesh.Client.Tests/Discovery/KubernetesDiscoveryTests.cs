using System.Text.Json.Nodes;
using Mesh.Balancing;
using Mesh.Discovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Discovery;

/// <summary>
/// The <c>kubernetes</c> source against a stub API server that follows the Kubernetes API's published shapes (no real API
/// server can run here) and real Kestrel backends: slices' endpoints take traffic and leave it, a terminating endpoint that
/// still serves drains, zones feed zone-aware balancing, a watch that ends resumes from the last resource version, 410 Gone
/// lists again, and the stub stopped keeps the last set.
/// </summary>
public sealed class KubernetesDiscoveryTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new("mesh-k8s-");
    private StubKubernetesApi _api = null!;

    public async Task InitializeAsync() => _api = await StubKubernetesApi.StartAsync();

    public async Task DisposeAsync() => await _api.DisposeAsync();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Endpoints_of_the_slices_take_traffic_and_one_modified_away_takes_none()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        _api.Put(Slice("inventory-a", "inventory", a, Ready()));
        _api.Put(Slice("inventory-b", "inventory", b, Ready()));
        _api.Put(Slice("orders-x", "orders", a, Ready()));
        using var host = MeshTestHost.Create(Config());

        await Eventually.WaitAsync(() => Endpoints(host).Count == 2, "a and b to be read");
        Assert.Equal(new[] { a.Address.Port, b.Address.Port }.Order(), Endpoints(host).Select(e => e.Address.Port));
        var ok = await Load.RunAsync(40, 4, i => Load.GetOkAsync(host.Client, $"http://inventory/items/{i}"));
        Assert.Equal(40, ok);
        Assert.True(a.Requests > 0 && b.Requests > 0, $"a={a.Requests} b={b.Requests}");
        Assert.Equal(0, _api.Unauthorized);

        // b neither ready nor serving (its pod went away): out of the set.
        _api.Put(Slice("inventory-b", "inventory", b, new JsonObject { ["ready"] = false, ["serving"] = false, ["terminating"] = false }));
        await Eventually.WaitAsync(() => Endpoints(host).Count == 1, "b to be gone");
        var bBefore = b.Requests;
        ok = await Load.RunAsync(40, 4, i => Load.GetOkAsync(host.Client, $"http://inventory/items/{i}"));
        Assert.Equal(40, ok);
        Assert.Equal(bBefore, b.Requests);

        // A slice deleted: its endpoints go too, and b's slice back makes two again.
        _api.Put(Slice("inventory-b", "inventory", b, Ready()));
        _api.Delete("inventory-a");
        await Eventually.WaitAsync(() => Endpoints(host).Select(e => e.Address.Port).SequenceEqual([b.Address.Port]), "only b");
        Assert.Equal(1, _api.Lists);
    }

    [Fact]
    public async Task A_terminating_endpoint_that_still_serves_finishes_its_requests_and_gets_no_new_one()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        _api.Put(Slice("inventory-a", "inventory", a, Ready()));
        _api.Put(Slice("inventory-b", "inventory", b, Ready()));
        using var host = MeshTestHost.Create(Config());
        await Eventually.WaitAsync(() => Endpoints(host).Count == 2, "a and b to be read");

        b.Delay = TimeSpan.FromSeconds(3);
        var slow = Enumerable.Range(0, 6).Select(i => host.Client.GetAsync($"http://inventory/slow/{i}")).ToList();
        await Eventually.WaitAsync(() => a.Requests + b.Requests == slow.Count, "every slow request to have reached a backend");
        var inFlight = b.Requests;
        Assert.True(inFlight > 0, "no request in flight on b");

        _api.Put(Slice("inventory-b", "inventory", b, new JsonObject { ["ready"] = false, ["serving"] = true, ["terminating"] = true }));
        await Eventually.WaitAsync(() => Endpoints(host).Any(e => e.Address.Port == b.Address.Port && e.Weight == 0), "b to drain");
        var ok = await Load.RunAsync(40, 4, i => Load.GetOkAsync(host.Client, $"http://inventory/items/{i}"));

        Assert.Equal(40, ok);
        Assert.Equal(inFlight, b.Requests);
        foreach (var response in await Task.WhenAll(slow))
        {
            using (response)
            {
                Assert.True(response.IsSuccessStatusCode, $"an in-flight request ended {(int)response.StatusCode}");
            }
        }

        Assert.Equal(0, b.Aborted);
    }

    [Fact]
    public async Task Zones_of_the_slices_feed_zone_aware_balancing()
    {
        await using var a1 = await TestBackend.StartAsync("a1");
        await using var a2 = await TestBackend.StartAsync("a2");
        await using var b1 = await TestBackend.StartAsync("b1");
        _api.Put(Slice("inventory-a1", "inventory", a1, Ready(), zone: "a", forZones: "a"));
        _api.Put(Slice("inventory-a2", "inventory", a2, Ready(), zone: "a"));
        _api.Put(Slice("inventory-b1", "inventory", b1, Ready(), zone: "b"));
        var config = Config();
        config["Mesh:Zone"] = "a";
        using var host = MeshTestHost.Create(config);
        await Eventually.WaitAsync(() => Endpoints(host).Count == 3, "three endpoints");

        var ok = await Load.RunAsync(200, 4, i => Load.GetOkAsync(host.Client, $"http://inventory/items/{i}"));

        Assert.Equal(200, ok);
        Assert.Equal(0, b1.Requests);
        Assert.True(a1.Requests > 0 && a2.Requests > 0, $"a1={a1.Requests} a2={a2.Requests}");
        var endpoints = Endpoints(host);
        Assert.Equal("b", endpoints.Single(e => e.Address.Port == b1.Address.Port).Zone);
        Assert.Equal("a", endpoints.Single(e => e.Address.Port == a1.Address.Port).Labels["kubernetes.io/hints-for-zones"]);
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        Assert.True(service.Destination.PrefersLocalZone);
    }

    [Fact]
    public async Task A_watch_that_ends_resumes_from_the_last_resource_version_seen()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        _api.Put(Slice("inventory-a", "inventory", a, Ready()));
        using var host = MeshTestHost.Create(Config());
        await Eventually.WaitAsync(() => Endpoints(host).Count == 1, "a to be read");
        await Eventually.WaitAsync(() => !_api.WatchedFrom.IsEmpty, "a watch");

        var bookmark = _api.Bookmark();
        await Eventually.WaitAsync(() => Sent(host, bookmark), "the bookmark to arrive");
        _api.EndWatches();
        await Eventually.WaitAsync(() => _api.WatchedFrom.Count == 2, "the watch to be resumed");
        _api.Put(Slice("inventory-b", "inventory", b, Ready()));

        await Eventually.WaitAsync(() => Endpoints(host).Count == 2, "b, put after the resume, to arrive");
        Assert.Equal(bookmark.ToString(System.Globalization.CultureInfo.InvariantCulture), _api.WatchedFrom.Last());
        Assert.Equal(1, _api.Lists);
    }

    [Fact]
    public async Task A_watch_answered_410_Gone_lists_again()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        _api.Put(Slice("inventory-a", "inventory", a, Ready()));
        using var host = MeshTestHost.Create(Config());
        await Eventually.WaitAsync(() => Endpoints(host).Count == 1, "a to be read");
        await Eventually.WaitAsync(() => !_api.WatchedFrom.IsEmpty, "a watch");

        // Changes the watch never sees, then compacted away: only a new list finds them.
        _api.Put(Slice("inventory-b", "inventory", b, Ready()), unseen: true);
        _api.Put(Slice("inventory-a", "inventory", a, new JsonObject { ["ready"] = false, ["serving"] = false }), unseen: true);
        _api.Compact();
        _api.EndWatches();

        await Eventually.WaitAsync(() => Endpoints(host).Select(e => e.Address.Port).SequenceEqual([b.Address.Port]), "the slices listed again");
        Assert.Equal(2, _api.Lists);
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("is gone (410); listing its slices again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_API_server_stopped_keeps_the_last_set_and_logs_once()
    {
        await using var a = await TestBackend.StartAsync("a");
        _api.Put(Slice("inventory-a", "inventory", a, Ready()));
        using var host = MeshTestHost.Create(Config());
        await Eventually.WaitAsync(() => Endpoints(host).Count == 1, "a to be read");

        await _api.StopAsync();
        await Eventually.WaitAsync(() => host.Logs.Entries.Any(e => e.Level == LogLevel.Debug && e.Message.Contains("still unreachable", StringComparison.Ordinal)), "two failed watches", TimeSpan.FromSeconds(30));
        var ok = await Load.RunAsync(50, 4, _ => Load.GetOkAsync(host.Client, "http://inventory/items"));

        Assert.Equal(50, ok);
        Assert.Single(host.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("Discovery source kubernetes", StringComparison.Ordinal) && e.Message.Contains("unreachable", StringComparison.Ordinal));
        Assert.Equal([a.Address.Port], Endpoints(host).Select(e => e.Address.Port));
    }

    [Fact]
    public async Task An_answer_that_is_not_the_API_servers_keeps_the_last_set()
    {
        await using var a = await TestBackend.StartAsync("a");
        _api.Put(Slice("inventory-a", "inventory", a, Ready()));
        using var host = MeshTestHost.Create(Config());
        await Eventually.WaitAsync(() => Endpoints(host).Count == 1, "a to be read");
        await Eventually.WaitAsync(() => !_api.WatchedFrom.IsEmpty, "a watch");

        _api.Garbage = true;
        _api.EndWatches();
        await Eventually.WaitAsync(() => host.Logs.Entries.Any(e => e.Level == LogLevel.Debug && e.Message.Contains("still unreachable", StringComparison.Ordinal)), "two failed watches", TimeSpan.FromSeconds(30));
        var ok = await Load.RunAsync(50, 4, _ => Load.GetOkAsync(host.Client, "http://inventory/items"));

        Assert.Equal(50, ok);
        Assert.Equal([a.Address.Port], Endpoints(host).Select(e => e.Address.Port));
        var warning = Assert.Single(host.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("unreachable", StringComparison.Ordinal));
        Assert.True(warning.Message.Contains("an answer that could not be read", StringComparison.Ordinal), warning.Message);
    }

    [Fact]
    public async Task Bad_settings_are_refused_at_start_naming_the_field()
    {
        var config = Config();
        config["Mesh:Discovery:Kubernetes:Namespace"] = "Not_A_Namespace";
        config["Mesh:Discovery:Kubernetes:Scheme"] = "ftp";
        config["Mesh:Discovery:Kubernetes:Kubeconfig"] = Path.Combine(_directory.Path, "missing");
        config["Mesh:Services:inventory:Discovery:PortName"] = "HTTP_PORT";
        config["Mesh:Services:inventory:Discovery:Namespace"] = "-shop";
        using var host = MeshTestHost.Create(config);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(error.Failures, f => f.StartsWith("Mesh:Discovery:Kubernetes:Namespace:", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Mesh:Discovery:Kubernetes:Scheme:", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Mesh:Discovery:Kubernetes:Kubeconfig:", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Mesh:Services:inventory:Discovery:PortName:", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Mesh:Services:inventory:Discovery:Namespace:", StringComparison.Ordinal));
    }

    private static JsonObject Ready() => new() { ["ready"] = true, ["serving"] = true, ["terminating"] = false };

    /// <summary>A slice of <paramref name="service"/> with one endpoint, the backend, whose port is named <c>http</c> next to another.</summary>
    private static JsonObject Slice(string name, string service, TestBackend backend, JsonObject conditions, string? zone = null, string? forZones = null)
    {
        var endpoint = new JsonObject
        {
            ["addresses"] = new JsonArray("127.0.0.1"),
            ["conditions"] = conditions,
            ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["name"] = backend.Name, ["namespace"] = "shop" },
        };
        if (zone is not null)
        {
            endpoint["zone"] = zone;
        }

        if (forZones is not null)
        {
            endpoint["hints"] = new JsonObject { ["forZones"] = new JsonArray(new JsonObject { ["name"] = forZones }) };
        }

        return new JsonObject
        {
            ["kind"] = "EndpointSlice",
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = "shop",
                ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = service },
            },
            ["addressType"] = "IPv4",
            ["endpoints"] = new JsonArray(endpoint),
            ["ports"] = new JsonArray(
                new JsonObject { ["name"] = "metrics", ["port"] = 9, ["protocol"] = "TCP" },
                new JsonObject { ["name"] = "http", ["port"] = backend.Address.Port, ["protocol"] = "TCP" }),
        };
    }

    private Dictionary<string, string?> Config() => new()
    {
        ["Mesh:Discovery:Kubernetes:Kubeconfig"] = _api.WriteKubeconfig(_directory.Path),
        ["Mesh:Discovery:Kubernetes:Namespace"] = "shop",
        ["Mesh:Services:inventory:LoadBalancer"] = LoadBalancerNames.RoundRobin,
        ["Mesh:Services:inventory:Discovery:Source"] = DiscoverySourceNames.Kubernetes,
        ["Mesh:Services:inventory:Discovery:PortName"] = "http",
    };

    private static bool Sent(MeshTestHost host, long version) =>
        host.Services.GetServices<IEndpointSource>().OfType<Mesh.Discovery.Kubernetes.KubernetesEndpointSource>().Single().LastResourceVersion("shop", "inventory") == version.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static List<MeshEndpoint> Endpoints(MeshTestHost host) =>
        host.Catalog.TryGetService("inventory", out var found) ? [.. found.Destination.Endpoints.Select(e => e.Endpoint).OrderBy(e => e.Address.Port)] : [];
}
