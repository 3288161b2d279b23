using Mesh.Discovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Discovery;

/// <summary>
/// Which source a service takes its endpoints from (its own <c>Discovery:Source</c>, else its <c>Endpoints</c>, else
/// <c>Mesh:Discovery:Source</c>), and the validation of the discovery settings, each failure naming its field.
/// </summary>
public sealed class DiscoverySelectionTests
{
    public static TheoryData<string[], string[]> InvalidConfigurations => new()
    {
        { ["Mesh:Services:inventory:Discovery:Source=consol"], ["Mesh:Services:inventory:Discovery:Source: 'consol' is not a discovery source for service 'inventory'", "config, meshd, dns, etcd"] },
        { ["Mesh:Discovery:Source=zookeeper"], ["Mesh:Discovery:Source: 'zookeeper' is not a discovery source", "config, meshd, dns, etcd"] },
        { ["Mesh:Services:inventory:Discovery:Source=dns", "Mesh:Services:inventory:Endpoints:0=http://127.0.0.1:5001"], ["Mesh:Services:inventory:Discovery:Source", "also lists Endpoints"] },
        { ["Mesh:Services:inventory:Discovery:Source=dns", "Mesh:Services:inventory:Discovery:Port=70000"], ["Mesh:Services:inventory:Discovery:Port: 70000 is out of range", "1 to 65535"] },
        { ["Mesh:Services:inventory:Discovery:Source=dns", "Mesh:Services:inventory:Discovery:Name=bad..name"], ["Mesh:Services:inventory:Discovery:Name: 'bad..name' is not a valid name"] },
        { ["Mesh:Services:inventory:Discovery:Source=dns", "Mesh:Services:inventory:Discovery:Scheme=ftp"], ["Mesh:Services:inventory:Discovery:Scheme: 'ftp' is not http or https"] },
        { ["Mesh:Discovery:Dns:Server=dns.example:53"], ["Mesh:Discovery:Dns:Server: 'dns.example:53' is not an IP address"] },
        { ["Mesh:Discovery:Dns:MinRefresh=00:02:00"], ["Mesh:Discovery:Dns:MinRefresh: 00:02:00 is out of range", "at most MaxRefresh"] },
        { ["Mesh:Discovery:Dns:MinRefresh=00:00:00.01"], ["Mesh:Discovery:Dns:MinRefresh: 00:00:00.0100000 is out of range", "at least 100 ms"] },
        { ["Mesh:Discovery:Dns:MaxRefresh=2.00:00:00"], ["Mesh:Discovery:Dns:MaxRefresh: 2.00:00:00 is out of range"] },
        { ["Mesh:Discovery:Dns:Timeout=00:01:00"], ["Mesh:Discovery:Dns:Timeout: 00:01:00 is out of range", "100 ms to 30 seconds"] },
        { ["Mesh:Discovery:Dns:Sever=127.0.0.1"], ["Mesh:Discovery:Dns:Sever: 'Sever' is not a known setting", "Server"] },
        { ["Mesh:Services:inventory:Discovery:Source=etcd"], ["Mesh:Discovery:Etcd:Endpoints: the etcd source is in use but no etcd endpoint is set"] },
        { ["Mesh:Discovery:Etcd:Prefix=services/"], ["Mesh:Discovery:Etcd:Prefix: 'services/' is not a key prefix"] },
        { ["Mesh:Discovery:Etcd:Endpoints:0=127.0.0.1:2379"], ["Mesh:Discovery:Etcd:Endpoints:0: '127.0.0.1:2379' is not an absolute http or https URI"] },
        { ["Mesh:Services:inventory:Discovery:Source=meshd"], ["Mesh:Discovery:Source: 'meshd' needs the control plane", "Mesh:ControlPlane:Address"] },
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
    }

    [Fact]
    public async Task A_service_with_endpoints_keeps_them_under_a_mesh_wide_dns_default_and_the_others_take_dns()
    {
        await using var configured = await TestBackend.StartAsync("configured");
        await using var discovered = await TestBackend.StartAsync("discovered");
        using var dns = await TestDnsServer.StartAsync(
        [
            TestDnsServer.Srv("_http._tcp.orders." + TestDnsServer.Domain, "orders.mesh.test", discovered.Address.Port),
            TestDnsServer.Host("orders.mesh.test", "127.0.0.1"),
        ]);
        using var host = MeshTestHost.Create(new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Source"] = DiscoverySourceNames.Dns,
            ["Mesh:Discovery:Dns:Server"] = dns.Server,
            ["Mesh:Services:inventory:Endpoints:0"] = configured.Address.ToString(),
            ["Mesh:Services:orders:Discovery:Name"] = "orders.mesh.test",
        });

        using (var response = await host.Client.GetAsync("http://inventory/items"))
        {
            Assert.Equal("configured", (await TestBackend.ReadEchoAsync(response)).Backend);
        }

        using (var response = await host.Client.GetAsync("http://orders/items"))
        {
            Assert.Equal("discovered", (await TestBackend.ReadEchoAsync(response)).Backend);
        }
    }

    [Fact]
    public async Task A_reloaded_name_is_looked_up_from_then_on()
    {
        await using var blue = await TestBackend.StartAsync("blue");
        await using var green = await TestBackend.StartAsync("green");
        using var dns = await TestDnsServer.StartAsync(
        [
            TestDnsServer.Srv("_http._tcp.blue." + TestDnsServer.Domain, "blue.mesh.test", blue.Address.Port),
            TestDnsServer.Srv("_http._tcp.green." + TestDnsServer.Domain, "green.mesh.test", green.Address.Port),
            TestDnsServer.Host("blue.mesh.test", "127.0.0.1"),
            TestDnsServer.Host("green.mesh.test", "127.0.0.1"),
        ]);
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Dns:Server"] = dns.Server,
            ["Mesh:Services:inventory:Discovery:Source"] = DiscoverySourceNames.Dns,
            ["Mesh:Services:inventory:Discovery:Name"] = "blue.mesh.test",
        };
        using var host = MeshTestHost.Create(config);
        Assert.Equal("blue", await BackendAsync(host));

        config["Mesh:Services:inventory:Discovery:Name"] = "green.mesh.test";
        host.Configuration.Replace(config);

        await Eventually.WaitAsync(async () => await BackendAsync(host) == "green", "calls to reach the green name's endpoint");
    }

    private static async Task<string> BackendAsync(MeshTestHost host)
    {
        using var response = await host.Client.GetAsync("http://inventory/items");
        return (await TestBackend.ReadEchoAsync(response)).Backend;
    }
}
