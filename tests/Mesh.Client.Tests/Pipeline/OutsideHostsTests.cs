using System.Net;
using Mesh.Discovery;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Pipeline;

/// <summary>
/// No silent fall-through: a request meant for the mesh whose service the mesh does not know fails at once, saying why
/// and what the control plane last said, instead of going to DNS and possibly outside the mesh.
/// </summary>
public sealed class OutsideHostsTests : IAsyncLifetime
{
    private TestBackend _backend = null!;
    private string _cache = "";

    public async Task InitializeAsync()
    {
        _backend = await TestBackend.StartAsync("outside");
        _cache = Directory.CreateTempSubdirectory("mesh-outside-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _backend.DisposeAsync();
        Directory.Delete(_cache, recursive: true);
    }

    [Fact]
    public async Task With_meshd_unreachable_and_no_cache_a_one_label_host_fails_naming_the_control_plane_and_an_address_still_passes()
    {
        using var closed = LoopbackPorts.Closed();
        using var host = MeshTestHost.Create(ControlPlane(closed.Address, TestMeshd.WorkloadToken, startupWait: "00:00:00.500"));

        var failure = await Assert.ThrowsAsync<MeshServiceUnknownException>(() => host.Client.GetAsync("http://back/items"));
        Assert.Equal("back", failure.Host);
        Assert.Contains("no snapshot yet", failure.Message, StringComparison.Ordinal);
        Assert.Contains($"meshd at {closed.Address}", failure.Message, StringComparison.Ordinal);
        Assert.Contains("could not be watched", failure.Message, StringComparison.Ordinal);

        // Hosts that could never be a service of the mesh are called as before.
        using var outside = await host.Client.GetAsync(new Uri(_backend.Address, "/items"));
        Assert.Equal(HttpStatusCode.OK, outside.StatusCode);
        Assert.Equal(1, _backend.Requests);
    }

    [Fact]
    public async Task With_a_token_meshd_refuses_the_failure_says_so()
    {
        await using var meshd = await TestMeshd.StartAsync();
        using var host = MeshTestHost.Create(ControlPlane(meshd.Address, "not-the-token"));

        var failure = await Assert.ThrowsAsync<MeshServiceUnknownException>(() => host.Client.GetAsync("http://back/items"));
        Assert.Contains("refused the token (status 401)", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Mesh:ControlPlane:Token", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_service_the_control_plane_named_and_then_dropped_fails_instead_of_leaving_the_mesh()
    {
        await using var meshd = await TestMeshd.StartAsync();
        (await meshd.RegisterAsync("back", "b1", _backend.Address)).EnsureSuccessStatusCode();
        using var host = MeshTestHost.Create(ControlPlane(meshd.Address, TestMeshd.WorkloadToken));
        await host.StartAsync();
        await Eventually.WaitAsync(() => host.Catalog.TryGetService("back", out _), "the client has the service");
        using (var first = await host.Client.GetAsync("http://back/items"))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        (await meshd.DeregisterAsync("back", "b1")).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => !host.Catalog.TryGetService("back", out _), "the client dropped the service");

        var failure = await Assert.ThrowsAsync<MeshServiceUnknownException>(() => host.Client.GetAsync("http://back/items"));
        Assert.Contains("was a service of the mesh earlier", failure.Message, StringComparison.Ordinal);
        Assert.Equal(1, _backend.Requests);
    }

    [Fact]
    public async Task Under_RegistryOnly_every_host_that_is_not_a_service_fails_unsent()
    {
        var config = MeshTestHost.ServiceConfig("inventory", Mesh.Balancing.LoadBalancerNames.RoundRobin, [_backend]);
        config["Mesh:OutboundTrafficPolicy"] = "RegistryOnly";
        using var host = MeshTestHost.Create(config);

        using (var inside = await host.Client.GetAsync("http://inventory/items"))
        {
            Assert.Equal(HttpStatusCode.OK, inside.StatusCode);
        }

        var failure = await Assert.ThrowsAsync<MeshServiceUnknownException>(() => host.Client.GetAsync(new Uri(_backend.Address, "/items")));
        Assert.Contains("RegistryOnly", failure.Message, StringComparison.Ordinal);
        Assert.Contains("No control plane is configured", failure.Message, StringComparison.Ordinal);
        Assert.Equal(1, _backend.Requests);

        // Switched back at run time: the same host is called outside the mesh again.
        config["Mesh:OutboundTrafficPolicy"] = "AllowAny";
        host.Configuration.Replace(config);
        using var outside = await host.Client.GetAsync(new Uri(_backend.Address, "/items"));
        Assert.Equal(HttpStatusCode.OK, outside.StatusCode);
    }

    [Fact]
    public async Task A_host_in_a_service_domain_goes_through_the_mesh_or_fails_and_other_hosts_pass()
    {
        var config = MeshTestHost.ServiceConfig("inventory.mesh.internal", Mesh.Balancing.LoadBalancerNames.RoundRobin, [_backend]);
        config["Mesh:ServiceDomains:0"] = "mesh.internal";
        using var host = MeshTestHost.Create(config);

        using (var inside = await host.Client.GetAsync("http://inventory.mesh.internal/items"))
        {
            Assert.Equal(HttpStatusCode.OK, inside.StatusCode);
        }

        var failure = await Assert.ThrowsAsync<MeshServiceUnknownException>(() => host.Client.GetAsync("http://orders.Mesh.Internal/items"));
        Assert.Contains("ends in 'mesh.internal' (Mesh:ServiceDomains)", failure.Message, StringComparison.Ordinal);
        using var outside = await host.Client.GetAsync(new Uri(_backend.Address, "/items"));
        Assert.Equal(HttpStatusCode.OK, outside.StatusCode);
        Assert.Equal(2, _backend.Requests);
    }

    [Theory]
    [InlineData("Mesh:OutboundTrafficPolicy", "DenyAll", "Mesh:OutboundTrafficPolicy: 'DenyAll' is not a policy")]
    [InlineData("Mesh:ServiceDomains:0", "mesh..internal", "Mesh:ServiceDomains:0: 'mesh..internal' is not a DNS name")]
    [InlineData("Mesh:ServiceDomains:0", "-mesh.internal", "Mesh:ServiceDomains:0: '-mesh.internal' is not a DNS name")]
    public void Bad_outside_settings_stop_the_start_naming_the_key(string key, string value, string expected)
    {
        using var host = MeshTestHost.Create(new Dictionary<string, string?> { [key] = value });
        var failure = Assert.Throws<OptionsValidationException>(() => host.Catalog);
        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
    }

    private Dictionary<string, string?> ControlPlane(Uri address, string token, string startupWait = "00:00:05") => new()
    {
        ["Mesh:ControlPlane:Address"] = address.ToString(),
        ["Mesh:ControlPlane:Token"] = token,
        ["Mesh:ControlPlane:CacheDirectory"] = _cache,
        ["Mesh:ControlPlane:StartupWait"] = startupWait,
    };
}
