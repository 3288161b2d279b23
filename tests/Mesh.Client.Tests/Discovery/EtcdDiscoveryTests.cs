using Mesh.Balancing;
using Mesh.Discovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Discovery;

/// <summary>
/// The <c>etcd</c> source against a real etcd and real Kestrel backends: instances put and deleted under load with no
/// failed request, bad entries skipped, etcd stopped and started again (the last set stays, the watch resumes), and a
/// compacted revision read again whole.
/// </summary>
public sealed class EtcdDiscoveryTests
{
    private const string Prefix = "/services";

    [Fact]
    public async Task Instances_put_and_deleted_under_load_come_and_go_with_no_failed_request()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var c = await TestBackend.StartAsync("c");
        await using var etcd = await EtcdServer.StartAsync(new EtcdServerOptions());
        await etcd.PutAsync($"{Prefix}/inventory/a", Entry(a, zone: "z1"));
        await etcd.PutAsync($"{Prefix}/inventory/b", Entry(b));
        using var host = MeshTestHost.Create(Config(etcd, LoadBalancerNames.RoundRobin));
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(new[] { a.Address.Port, b.Address.Port }.Order()), "a and b to be read");
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        Assert.Equal("z1", service.Destination.Endpoints.Single(e => e.Endpoint.Address.Port == a.Address.Port).Endpoint.Zone);

        using var stop = new CancellationTokenSource();
        var failed = 0;
        var sent = 0;
        var load = Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await host.Client.GetAsync("http://inventory/items");
                    response.EnsureSuccessStatusCode();
                }
                catch (Exception ex) when (ex is HttpRequestException or MeshEndpointUnavailableException)
                {
                    Interlocked.Increment(ref failed);
                }

                Interlocked.Increment(ref sent);
            }
        })));

        await etcd.PutAsync($"{Prefix}/inventory/c", Entry(c));
        await Eventually.WaitAsync(() => c.Requests >= 20, "the new instance c to take traffic");
        await etcd.DeleteAsync($"{Prefix}/inventory/a");
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(new[] { b.Address.Port, c.Address.Port }.Order()), "a to be gone");

        // Calls that picked a before the swap may still land on it; 100 calls later, none is in flight any more.
        var sentBefore = Volatile.Read(ref sent);
        await Eventually.WaitAsync(() => Volatile.Read(ref sent) >= sentBefore + 100, "100 more requests");
        var aBefore = a.Requests;
        sentBefore = Volatile.Read(ref sent);
        await Eventually.WaitAsync(() => Volatile.Read(ref sent) >= sentBefore + 100, "100 more requests");
        await stop.CancelAsync();
        await load;

        Assert.Equal(0, failed);
        Assert.Equal(aBefore, a.Requests);
    }

    [Fact]
    public async Task A_bad_entry_is_skipped_and_logged_and_the_others_stay()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var etcd = await EtcdServer.StartAsync(new EtcdServerOptions());
        await etcd.PutAsync($"{Prefix}/inventory/a", Entry(a));
        await etcd.PutAsync($"{Prefix}/inventory/broken", "{\"address\":\"ftp://10.0.0.1:21\"}");
        await etcd.PutAsync($"{Prefix}/inventory/garbage", "not json at all");
        await etcd.PutAsync($"{Prefix}/inventory/heavy", $"{{\"address\":\"{a.Address.GetLeftPart(UriPartial.Authority)}\",\"weight\":1000000}}");
        using var host = MeshTestHost.Create(Config(etcd, LoadBalancerNames.RoundRobin));

        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual([a.Address.Port]), "a to be read");
        var skipped = host.Logs.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("skipped", StringComparison.Ordinal)).Select(e => e.Message).ToList();
        Assert.Equal(3, skipped.Count);
        Assert.Contains(skipped, m => m.Contains("/services/inventory/broken", StringComparison.Ordinal) && m.Contains("\"address\"", StringComparison.Ordinal));
        Assert.Contains(skipped, m => m.Contains("/services/inventory/garbage", StringComparison.Ordinal) && m.Contains("not JSON", StringComparison.Ordinal));
        Assert.Contains(skipped, m => m.Contains("/services/inventory/heavy", StringComparison.Ordinal) && m.Contains("\"weight\"", StringComparison.Ordinal));
        Assert.All(skipped, m => Assert.Contains("Discovery source etcd", m, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Etcd_stopped_keeps_the_last_set_and_started_again_the_watch_resumes()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var etcd = await EtcdServer.StartAsync(new EtcdServerOptions());
        await etcd.PutAsync($"{Prefix}/inventory/a", Entry(a));
        using var host = MeshTestHost.Create(Config(etcd, LoadBalancerNames.RoundRobin));
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual([a.Address.Port]), "a to be read");

        etcd.Kill();
        await Eventually.WaitAsync(() => host.Logs.Entries.Any(e => e.Level == LogLevel.Debug && e.Message.Contains("still unreachable", StringComparison.Ordinal)), "two failed watches", TimeSpan.FromSeconds(30));
        var ok = await Load.RunAsync(50, 4, _ => Load.GetOkAsync(host.Client, "http://inventory/items"));
        Assert.Equal(50, ok);
        Assert.Single(host.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("unreachable", StringComparison.Ordinal) && e.Message.Contains("Discovery source etcd", StringComparison.Ordinal));

        await etcd.RestartAsync();
        await etcd.PutAsync($"{Prefix}/inventory/b", Entry(b));
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(new[] { a.Address.Port, b.Address.Port }.Order()), "b, put after the restart, to arrive by the resumed watch", TimeSpan.FromSeconds(30));
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("reached again", StringComparison.Ordinal));
        Assert.DoesNotContain(host.Logs.Entries, e => e.Message.Contains("compacted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_watch_from_a_compacted_revision_reads_every_entry_again()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var etcd = await EtcdServer.StartAsync(new EtcdServerOptions());
        await etcd.PutAsync($"{Prefix}/inventory/a", Entry(a));

        // The source's back-off runs on this clock, so it cannot reconnect before the history it missed is compacted.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var host = MeshTestHost.Create(Config(etcd, LoadBalancerNames.RoundRobin), s => s.AddSingleton<TimeProvider>(time));
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual([a.Address.Port]), "a to be read");

        etcd.Kill();
        await Eventually.WaitAsync(() => host.Logs.Entries.Any(e => e.Message.Contains("unreachable", StringComparison.Ordinal)), "the watch to break", TimeSpan.FromSeconds(30));
        await etcd.RestartAsync();
        await etcd.PutAsync($"{Prefix}/inventory/b", Entry(b));
        var revision = await etcd.DeleteAsync($"{Prefix}/inventory/a");
        await etcd.CompactAsync(revision);
        time.Advance(TimeSpan.FromSeconds(10));

        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual([b.Address.Port]), "the entries read again after the compaction", TimeSpan.FromSeconds(30));
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("compacted away; reading every entry again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_etcd_as_the_mesh_wide_source_every_service_under_the_prefix_is_a_service_of_the_mesh()
    {
        await using var orders = await TestBackend.StartAsync("orders");
        await using var etcd = await EtcdServer.StartAsync(new EtcdServerOptions());
        await etcd.PutAsync($"{Prefix}/orders/o1", Entry(orders));
        await etcd.PutAsync($"{Prefix}/Not_A_Service/x", Entry(orders));
        using var host = MeshTestHost.Create(new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Source"] = DiscoverySourceNames.Etcd,
            ["Mesh:Discovery:Etcd:Endpoints:0"] = etcd.Endpoint.ToString(),
        });

        await Eventually.WaitAsync(() => host.Catalog.TryGetService("orders", out _), "orders to be introduced");
        using var response = await host.Client.GetAsync("http://orders/o/1");
        Assert.Equal("orders", (await TestBackend.ReadEchoAsync(response)).Backend);
        Assert.Equal(["orders"], host.Catalog.ServiceNames);
        Assert.Contains(host.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("/services/Not_A_Service/x", StringComparison.Ordinal));
    }

    private static string Entry(TestBackend backend, string? zone = null) =>
        zone is null
            ? $"{{\"address\":\"{backend.Address.GetLeftPart(UriPartial.Authority)}\",\"weight\":1,\"labels\":{{\"version\":\"v1\"}}}}"
            : $"{{\"address\":\"{backend.Address.GetLeftPart(UriPartial.Authority)}\",\"zone\":\"{zone}\",\"weight\":1}}";

    private static Dictionary<string, string?> Config(EtcdServer etcd, string balancer) => new()
    {
        ["Mesh:Discovery:Etcd:Endpoints:0"] = etcd.Endpoint.ToString(),
        ["Mesh:Services:inventory:LoadBalancer"] = balancer,
        ["Mesh:Services:inventory:Discovery:Source"] = DiscoverySourceNames.Etcd,
    };

    private static List<int> Endpoints(MeshTestHost host) =>
        host.Catalog.TryGetService("inventory", out var found) ? [.. found.Destination.Endpoints.Select(e => e.Endpoint.Address.Port).Order()] : [];
}
