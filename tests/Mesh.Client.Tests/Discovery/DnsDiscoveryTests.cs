using System.Globalization;
using Mesh.Balancing;
using Mesh.Discovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.Discovery;

/// <summary>
/// The <c>dns</c> source against a real DNS server (dnsmasq on loopback) and real Kestrel backends: SRV weights spread
/// traffic, the lowest priority group takes it, a removed record stops traffic after its time to live, an outage keeps
/// the last good set, A records take the configured port and an authoritative empty answer empties the set.
/// </summary>
public sealed class DnsDiscoveryTests
{
    private const string SrvName = "_http._tcp.inventory." + TestDnsServer.Domain;

    [Fact]
    public async Task Srv_weights_spread_traffic_and_only_the_lowest_priority_group_takes_it()
    {
        await using var light = await TestBackend.StartAsync("light");
        await using var heavy = await TestBackend.StartAsync("heavy");
        await using var backup = await TestBackend.StartAsync("backup");
        using var dns = await TestDnsServer.StartAsync(
        [
            TestDnsServer.Srv(SrvName, "light.mesh.test", light.Address.Port, priority: 10, weight: 1),
            TestDnsServer.Srv(SrvName, "heavy.mesh.test", heavy.Address.Port, priority: 10, weight: 3),
            TestDnsServer.Srv(SrvName, "backup.mesh.test", backup.Address.Port, priority: 20, weight: 1),
            TestDnsServer.Host("light.mesh.test", "127.0.0.1"),
            TestDnsServer.Host("heavy.mesh.test", "127.0.0.1"),
            TestDnsServer.Host("backup.mesh.test", "127.0.0.1"),
        ]);
        using var host = MeshTestHost.Create(Config(dns, LoadBalancerNames.RoundRobin));

        var ok = await Load.RunAsync(400, 4, async _ =>
        {
            using var response = await host.Client.GetAsync("http://inventory/items");
            response.EnsureSuccessStatusCode();
        });

        Assert.Equal(400, ok);
        Assert.Equal(0, backup.Requests);

        // Weighted round robin gives each endpoint exactly its weight in every cycle of 4.
        Assert.InRange(light.Requests, 95, 105);
        Assert.InRange(heavy.Requests, 295, 305);
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        Assert.Equal([1, 3], service.Destination.Endpoints.OrderBy(e => e.Endpoint.Weight).Select(e => e.Endpoint.Weight));
    }

    [Fact]
    public async Task A_removed_record_stops_traffic_after_its_ttl_and_the_next_priority_group_takes_over_when_the_first_is_gone()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var backup = await TestBackend.StartAsync("backup");
        string[] hosts = [TestDnsServer.Host("a.mesh.test", "127.0.0.1"), TestDnsServer.Host("b.mesh.test", "127.0.0.1"), TestDnsServer.Host("backup.mesh.test", "127.0.0.1")];
        var backupRecord = TestDnsServer.Srv(SrvName, "backup.mesh.test", backup.Address.Port, priority: 2);
        using var dns = await TestDnsServer.StartAsync(
            [TestDnsServer.Srv(SrvName, "a.mesh.test", a.Address.Port, priority: 1), TestDnsServer.Srv(SrvName, "b.mesh.test", b.Address.Port, priority: 1), backupRecord, .. hosts]);
        using var host = MeshTestHost.Create(Config(dns, LoadBalancerNames.RoundRobin));

        // The first answer may come after the first build's bounded wait on a busy machine: the split is counted once both are known.
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(new[] { a.Address.Port, b.Address.Port }.Order()), "both priority-1 records to be known");
        await SendAsync(host, 20);

        // Both records of the first group share the calls (exactly half each unless the balancer was rebuilt meanwhile,
        // which starts its turn afresh); the backup gets none.
        Assert.Equal(20, a.Requests + b.Requests);
        Assert.InRange(a.Requests, 8, 12);
        Assert.Equal(0, backup.Requests);

        await dns.RestartAsync([TestDnsServer.Srv(SrvName, "a.mesh.test", a.Address.Port, priority: 1), backupRecord, .. hosts]);
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual([a.Address.Port]), "b's record to be gone after its TTL of 1 s");
        var before = b.Requests;
        await SendAsync(host, 50);
        Assert.Equal(before, b.Requests);
        Assert.Equal(0, backup.Requests);

        await dns.RestartAsync([backupRecord, .. hosts]);
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual([backup.Address.Port]), "the priority-2 group to take over");
        await SendAsync(host, 10);
        Assert.Equal(10, backup.Requests);
    }

    [Fact]
    public async Task A_stopped_server_keeps_the_last_set_in_force_and_the_failure_is_logged_once()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        string[] records =
        [
            TestDnsServer.Srv(SrvName, "a.mesh.test", a.Address.Port, weight: 1), TestDnsServer.Srv(SrvName, "b.mesh.test", b.Address.Port, weight: 1),
            TestDnsServer.Host("a.mesh.test", "127.0.0.1"), TestDnsServer.Host("b.mesh.test", "127.0.0.1"),
        ];
        using var dns = await TestDnsServer.StartAsync(records);
        var config = Config(dns, LoadBalancerNames.RoundRobin);
        config["Mesh:Discovery:Dns:MinRefresh"] = "00:00:00.2";
        config["Mesh:Discovery:Dns:Timeout"] = "00:00:00.3";
        using var host = MeshTestHost.Create(config);
        using var failures = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "Mesh", "mesh.discovery.failures");
        await SendAsync(host, 10);

        dns.Stop();
        await Eventually.WaitAsync(() => failures.GetMeasurementSnapshot().Count >= 3, "three failed lookups", TimeSpan.FromSeconds(30));
        var ok = await Load.RunAsync(100, 4, async _ =>
        {
            using var response = await host.Client.GetAsync("http://inventory/items");
            response.EnsureSuccessStatusCode();
        });

        Assert.Equal(100, ok);
        Assert.Equal(2, Endpoints(host).Count);
        var warnings = host.Logs.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("lookup for service inventory", StringComparison.Ordinal)).ToList();
        var warning = Assert.Single(warnings);
        Assert.Contains("Discovery source dns", warning.Message, StringComparison.Ordinal);
        Assert.Contains("last good 2 endpoints stay in force", warning.Message, StringComparison.Ordinal);
        Assert.All(failures.GetMeasurementSnapshot(), m => Assert.Equal("inventory", m.Tags["mesh.service"]));

        await dns.RestartAsync(records);
        await Eventually.WaitAsync(() => host.Logs.Entries.Any(e => e.Message.Contains("answered again", StringComparison.Ordinal)), "the lookup to answer again", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_records_take_the_configured_port_and_an_authoritative_empty_answer_empties_the_set_after_the_ttl()
    {
        await using var backend = await TestBackend.StartAsync("backend");
        using var dns = await TestDnsServer.StartAsync([TestDnsServer.Host("catalog.mesh.test", "127.0.0.1", ttl: 1)]);
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Dns:Server"] = dns.Server,
            ["Mesh:Discovery:Dns:MinRefresh"] = "00:00:00.2",
            ["Mesh:Discovery:Source"] = DiscoverySourceNames.Dns,
            ["Mesh:Services:catalog:Discovery:Name"] = "catalog.mesh.test",
            ["Mesh:Services:catalog:Discovery:Port"] = backend.Address.Port.ToString(CultureInfo.InvariantCulture),
        };
        using var host = MeshTestHost.Create(config);
        using var endpoints = new MetricCollector<int>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "Mesh", "mesh.discovery.endpoints");

        using (var response = await host.Client.GetAsync("http://catalog/items"))
        {
            Assert.Equal("backend", (await TestBackend.ReadEchoAsync(response)).Backend);
        }

        Assert.Equal([backend.Address.Port], Endpoints(host, "catalog"));
        endpoints.RecordObservableInstruments();
        Assert.Equal(1, endpoints.LastMeasurement!.Value);
        Assert.Equal("dns", endpoints.LastMeasurement.Tags["mesh.discovery.source"]);

        // The name is gone from a server authoritative for its domain: NXDOMAIN, so the set empties.
        await dns.RestartAsync([]);
        await Eventually.WaitAsync(() => Endpoints(host, "catalog").Count == 0, "the NXDOMAIN answer to empty the set");
        await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://catalog/items"));
        Assert.Contains(host.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("service catalog", StringComparison.Ordinal) && e.Message.Contains("NXDOMAIN", StringComparison.Ordinal));
    }

    private static Dictionary<string, string?> Config(TestDnsServer dns, string balancer) => new()
    {
        ["Mesh:Discovery:Dns:Server"] = dns.Server,
        ["Mesh:Services:inventory:LoadBalancer"] = balancer,
        ["Mesh:Services:inventory:Discovery:Source"] = DiscoverySourceNames.Dns,
        ["Mesh:Services:inventory:Discovery:Name"] = "inventory.mesh.test",
    };

    private static List<int> Endpoints(MeshTestHost host, string service = "inventory") =>
        host.Catalog.TryGetService(service, out var found) ? [.. found.Destination.Endpoints.Select(e => e.Endpoint.Address.Port).Order()] : [];

    private static async Task SendAsync(MeshTestHost host, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var response = await host.Client.GetAsync("http://inventory/items");
            response.EnsureSuccessStatusCode();
        }
    }
}
