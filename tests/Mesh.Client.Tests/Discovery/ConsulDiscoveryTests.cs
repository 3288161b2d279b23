using System.Diagnostics;
using Mesh.Balancing;
using Mesh.Discovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Discovery;

/// <summary>
/// The <c>consul</c> source against a stub Consul agent (a real Kestrel server following the published shapes of the
/// health endpoint and its blocking queries) and real Kestrel backends: instances come and go as the catalog changes,
/// quiet catalogs cost one query per wait, an index going backwards starts over from 0, an agent that does not block is
/// rate-limited, the token goes in its header and never in a log, an agent that is gone or answers garbage keeps the
/// last set, tags and meta are labels a route can pick, and bad settings name their field.
/// </summary>
public sealed class ConsulDiscoveryTests
{
    private const string Token = "b1gs3cr3t-acl-token-4e5f";

    public static TheoryData<string[], string[]> InvalidConfigurations => new()
    {
        { ["Mesh:Discovery:Consul:Address=127.0.0.1:8500"], ["Mesh:Discovery:Consul:Address: '127.0.0.1:8500' is not an absolute http or https URI"] },
        { ["Mesh:Discovery:Consul:Address=http://127.0.0.1:8500/v1"], ["Mesh:Discovery:Consul:Address", "without path"] },
        { ["Mesh:Discovery:Consul:Wait=00:20:00"], ["Mesh:Discovery:Consul:Wait: 00:20:00 is out of range", "1 second to 10 minutes"] },
        { ["Mesh:Discovery:Consul:Wait=00:00:01.5"], ["Mesh:Discovery:Consul:Wait: 00:00:01.5000000 is out of range", "whole seconds"] },
        { ["Mesh:Discovery:Consul:MinInterval=00:00:00"], ["Mesh:Discovery:Consul:MinInterval: 00:00:00 is out of range", "10 ms to 1 minute"] },
        { ["Mesh:Discovery:Consul:Datacenter=dc 1"], ["Mesh:Discovery:Consul:Datacenter: the datacenter is not"] },
        { ["Mesh:Discovery:Consul:Token=has space"], ["Mesh:Discovery:Consul:Token: the token is not"] },
        { ["Mesh:Discovery:Consul:Tokn=x"], ["Mesh:Discovery:Consul:Tokn: 'Tokn' is not a known setting", "Token"] },
        { ["Mesh:Services:inventory:Discovery:Source=consul", "Mesh:Services:inventory:Discovery:Name=bad..name"], ["Mesh:Services:inventory:Discovery:Name: 'bad..name' is not a valid name"] },
        { ["Mesh:Services:inventory:Discovery:Source=consul", "Mesh:Services:inventory:Discovery:Tag=a\u0001b"], ["Mesh:Services:inventory:Discovery:Tag: the tag is not"] },
        { ["Mesh:Services:inventory:Discovery:Source=consol"], ["'consol' is not a discovery source", "config, meshd, dns, etcd, consul"] },
    };

    [Theory]
    [MemberData(nameof(InvalidConfigurations))]
    public async Task The_host_does_not_start_and_the_error_names_the_field(string[] settings, string[] expected)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings.Select(s => s.Split('=', 2)).Select(p => KeyValuePair.Create(p[0], (string?)p[1])));
        builder.Services.AddMesh();
        builder.Services.AddHttpClient("meshed").AddMesh();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.All(expected, part => Assert.Contains(part, error.Message, StringComparison.Ordinal));
        Assert.DoesNotContain("has space", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Instances_come_and_go_as_the_catalog_changes_and_take_traffic()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var c = await TestBackend.StartAsync("c");
        await using var consul = await StubConsul.StartAsync();
        consul.Set("inventory-svc", Instance("a", a), Instance("b", b));
        using var host = MeshTestHost.Create(Config(consul, name: "inventory-svc", extra: new() { ["Mesh:Discovery:Consul:Datacenter"] = "dc1" }));

        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(Ports(a, b)), "a and b to be read");
        var ok = await Load.RunAsync(40, 4, _ => Load.GetOkAsync(host.Client, "http://inventory/items"));
        Assert.Equal(40, ok);
        Assert.True(a.Requests > 0 && b.Requests > 0);

        consul.Set("inventory-svc", Instance("a", a), Instance("b", b), Instance("c", c));
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(Ports(a, b, c)), "c to be added");
        await Load.RunAsync(30, 3, _ => Load.GetOkAsync(host.Client, "http://inventory/items"));
        Assert.True(c.Requests > 0);

        // A failing check takes the instance out (the query asks for passing instances only).
        consul.Set("inventory-svc", Instance("a", a) with { Passing = false }, Instance("b", b), Instance("c", c));
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(Ports(b, c)), "a to leave");
        var aBefore = a.Requests;
        await Load.RunAsync(30, 1, _ => Load.GetOkAsync(host.Client, "http://inventory/items"));
        Assert.Equal(aBefore, a.Requests);

        var queries = consul.Queries.ToList();
        Assert.All(queries, q => Assert.Equal("inventory-svc", q.Service));
        Assert.All(queries, q => Assert.Equal("true", q.Passing));
        Assert.All(queries, q => Assert.Equal("dc1", q.Datacenter));
        Assert.All(queries, q => Assert.Equal("1s", q.Wait));
        Assert.Equal(0, queries[0].Index);
        Assert.Contains(queries, q => q.Index > 1);
    }

    [Fact]
    public async Task A_quiet_catalog_is_asked_with_blocking_queries_once_per_wait()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var consul = await StubConsul.StartAsync();
        consul.Set("inventory", Instance("a", a));
        using var host = MeshTestHost.Create(Config(consul));
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(Ports(a)), "a to be read");
        await Eventually.WaitAsync(() => consul.Queries.Any(q => q.Index == consul.Index), "a blocking query");

        // Each query now blocks for the whole wait (1 s) on the stub's side, so over any period the count cannot grow
        // by more than one per second of that period, plus the one in flight; a slow machine only lowers the count.
        var watch = Stopwatch.StartNew();
        var before = consul.Queries.Count;
        await Eventually.WaitAsync(() => consul.Queries.Count >= before + 3, "three more blocking queries", TimeSpan.FromSeconds(30));
        var during = consul.Queries.Count - before;
        var elapsed = watch.Elapsed;
        Assert.True(during <= (int)elapsed.TotalSeconds + 1, $"{during} queries in {elapsed}");
        Assert.All(consul.Queries.Skip(before), q => Assert.Equal(consul.Index, q.Index));
        Assert.All(consul.Queries.Skip(before), q => Assert.Equal("1s", q.Wait));
        Assert.Equal(Ports(a), Endpoints(host));
    }

    [Fact]
    public async Task An_index_going_backwards_starts_over_from_0()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var consul = await StubConsul.StartAsync();
        consul.SetIndex(100);
        consul.Set("inventory", Instance("a", a));
        using var host = MeshTestHost.Create(Config(consul));
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(Ports(a)), "a to be read");
        await Eventually.WaitAsync(() => consul.Queries.Any(q => q.Index == 101), "a query blocking on 101");

        // The catalog is restored from an older state: its index is lower, and its instances differ.
        consul.Restore(6, "inventory", Instance("b", b));
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(Ports(b)), "b to be read");
        await Eventually.WaitAsync(() => consul.Queries.Any(q => q.Index == 6), "a query blocking on the new index 6");

        var indexes = consul.Queries.Select(q => q.Index).ToList();
        var reset = indexes.LastIndexOf(101) + 1;
        Assert.Equal(0, indexes[reset]);
        Assert.Equal(6, indexes[reset + 1]);
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("index went from 101 to 6; querying again from 0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_agent_that_answers_at_once_with_the_same_index_is_asked_at_most_once_per_min_interval()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var consul = await StubConsul.StartAsync();
        consul.Blocking = false;
        consul.Set("inventory", Instance("a", a));
        var time = new CountingTimeProvider(new FakeTimeProvider(DateTimeOffset.UtcNow));
        var config = Config(consul);
        config["Mesh:Discovery:Consul:MinInterval"] = "00:00:01";
        using var host = MeshTestHost.Create(config, s => s.AddSingleton<TimeProvider>(time));
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(Ports(a)), "a to be read");

        // The query from 0 and the first with the index are sent at once. Every later query needs the (fake) clock to move
        // a full MinInterval past the start of the one before, so the counts below hold however slow the machine, while
        // a watch that asked in a loop would be far past them by the time they are checked.
        for (var round = 0; round < 3; round++)
        {
            var expected = 2 + round;
            await Eventually.WaitAsync(() => consul.Queries.Count >= expected, $"query {expected}");
            Assert.Equal(expected, consul.Queries.Count);
            time.Fake.Advance(TimeSpan.FromMilliseconds(999));
            Assert.Equal(expected, consul.Queries.Count);
            time.Fake.Advance(TimeSpan.FromMilliseconds(1));
        }

        await Eventually.WaitAsync(() => consul.Queries.Count >= 5, "query 5");
        Assert.All(consul.Queries.Skip(1), q => Assert.Equal(consul.Index, q.Index));
    }

    [Fact]
    public async Task The_token_goes_in_its_header_never_in_the_url_or_a_log_and_a_stopped_agent_keeps_the_last_set()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var consul = await StubConsul.StartAsync();
        consul.Set("inventory", Instance("a", a), Instance("b", b));
        using var host = MeshTestHost.Create(Config(consul, extra: new() { ["Mesh:Discovery:Consul:Token"] = Token }));
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(Ports(a, b)), "a and b to be read");

        // Garbage with a good status keeps the set.
        consul.Garbage = "<html>not consul</html>";
        consul.Set("inventory", Instance("a", a));
        await Eventually.WaitAsync(() => host.Logs.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.Contains("not JSON", StringComparison.Ordinal)), "the garbage to be refused");
        Assert.Equal(Ports(a, b), Endpoints(host));

        await consul.StopAsync();
        await Eventually.WaitAsync(() => host.Logs.Entries.Any(e => e.Level == LogLevel.Debug && e.Message.Contains("failed again (ConnectionError)", StringComparison.Ordinal)), "a query refused by the stopped agent", TimeSpan.FromSeconds(30));
        var ok = await Load.RunAsync(50, 4, _ => Load.GetOkAsync(host.Client, "http://inventory/items"));
        Assert.Equal(50, ok);
        Assert.Equal(Ports(a, b), Endpoints(host));

        // One warning when the failures start (the garbage), the rest at debug.
        Assert.Single(host.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("Discovery source consul: query of service inventory", StringComparison.Ordinal));
        Assert.All(consul.Queries, q => Assert.Equal(Token, q.Token));
        Assert.All(consul.Queries, q => Assert.DoesNotContain(Token, q.PathAndQuery, StringComparison.Ordinal));
        Assert.DoesNotContain(host.Logs.Entries, e => e.Message.Contains(Token, StringComparison.Ordinal) || (e.Exception?.ToString().Contains(Token, StringComparison.Ordinal) ?? false));
    }

    [Fact]
    public async Task Tags_and_meta_are_labels_a_route_picks_and_a_bad_instance_is_skipped()
    {
        await using var v1 = await TestBackend.StartAsync("v1");
        await using var v2 = await TestBackend.StartAsync("v2");
        await using var consul = await StubConsul.StartAsync();
        consul.Set(
            "inventory",
            Instance("v1", v1) with { Tags = ["version=v1", "primary"] },
            Instance("v2", v2) with { Address = string.Empty, Meta = new Dictionary<string, string> { ["version"] = "v2", ["zone"] = "z1" }, Weight = 3 },
            new StubConsulInstance("broken", "127.0.0.1", 0));
        var config = Config(consul);
        config["Mesh:Services:inventory:Routes:0:Name"] = "v2-only";
        config["Mesh:Services:inventory:Routes:0:Destinations:0:Labels:version"] = "v2";
        using var host = MeshTestHost.Create(config);

        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(Ports(v1, v2)), "v1 and v2 to be read");
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        var first = service.Destination.Endpoints.Single(e => e.Endpoint.Address.Port == v1.Address.Port).Endpoint;
        var second = service.Destination.Endpoints.Single(e => e.Endpoint.Address.Port == v2.Address.Port).Endpoint;
        Assert.Equal("v1", first.Labels["version"]);
        Assert.Equal("true", first.Labels["primary"]);
        Assert.Null(first.Zone);
        Assert.Equal("v2", second.Labels["version"]);
        Assert.Equal("z1", second.Zone);
        Assert.Equal(3, second.Weight);
        Assert.Equal("127.0.0.1", second.Address.Host);
        Assert.Contains(host.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("Consul instance broken skipped: Service.Port", StringComparison.Ordinal));

        var ok = await Load.RunAsync(20, 2, _ => Load.GetOkAsync(host.Client, "http://inventory/items"));
        Assert.Equal(20, ok);
        Assert.Equal(0, v1.Requests);
        Assert.Equal(20, v2.Requests);
    }

    [Fact]
    public async Task A_tag_narrows_the_query()
    {
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var consul = await StubConsul.StartAsync();
        consul.Set("inventory", Instance("a", a) with { Tags = ["canary"] }, Instance("b", b));
        using var host = MeshTestHost.Create(Config(consul, extra: new() { ["Mesh:Services:inventory:Discovery:Tag"] = "canary" }));

        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(Ports(a)), "only the canary");
        Assert.All(consul.Queries, q => Assert.Equal("canary", q.Tag));
    }

    private static StubConsulInstance Instance(string id, TestBackend backend) => new(id, backend.Address.Host, backend.Address.Port);

    private static Dictionary<string, string?> Config(StubConsul consul, string? name = null, Dictionary<string, string?>? extra = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Consul:Address"] = consul.Address.ToString(),
            ["Mesh:Discovery:Consul:Wait"] = "00:00:01",
            ["Mesh:Discovery:Consul:MinInterval"] = "00:00:00.050",
            ["Mesh:Services:inventory:LoadBalancer"] = LoadBalancerNames.RoundRobin,
            ["Mesh:Services:inventory:Discovery:Source"] = DiscoverySourceNames.Consul,
        };
        if (name is not null)
        {
            config["Mesh:Services:inventory:Discovery:Name"] = name;
        }

        foreach (var (key, value) in extra ?? [])
        {
            config[key] = value;
        }

        return config;
    }

    private static int[] Ports(params TestBackend[] backends) => [.. backends.Select(b => b.Address.Port).Order()];

    private static List<int> Endpoints(MeshTestHost host) =>
        host.Catalog.TryGetService("inventory", out var found) ? [.. found.Destination.Endpoints.Select(e => e.Endpoint.Address.Port).Order()] : [];
}
