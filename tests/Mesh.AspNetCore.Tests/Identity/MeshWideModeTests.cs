using System.Net.Http.Json;
using Mesh.AspNetCore.Registration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>
/// The mesh-wide mode, <c>Mesh:Mtls:Mode</c>, on real Kestrel and real TLS: a service without a mode of its own takes its
/// connections in it, and the service's own mode, set locally or pushed by meshd, overrides it.
/// </summary>
public sealed class MeshWideModeTests : IDisposable
{
    private readonly MeshPki _pki = new();
    private readonly TempDirectory _cache = new("mesh-wide-mode-");

    public void Dispose()
    {
        _cache.Dispose();
        _pki.Dispose();
    }

    [Fact]
    public async Task A_mesh_wide_strict_mode_makes_a_service_without_its_own_mode_strict()
    {
        await using var server = await MeshedServers.StartAsync(_pki, mode: null, mesh: o => o.Mtls.Mode = "Strict");
        using var mtls = new HttpClient(_pki.MtlsHandler(_pki.Svid("orders")));

        Assert.Equal("spiffe://mesh.local/svc/orders", (await mtls.GetFromJsonAsync<Who>(new Uri(server.Https(), "/who")))!.Id);
        Assert.False(await PlaintextServedAsync(server));
    }

    [Fact]
    public async Task A_services_own_permissive_mode_overrides_a_mesh_wide_strict_one()
    {
        await using var server = await MeshedServers.StartAsync(_pki, mode: "Permissive", mesh: o => o.Mtls.Mode = "Strict");

        Assert.True(await PlaintextServedAsync(server));
    }

    [Fact]
    public async Task A_pushed_policy_without_a_mode_keeps_the_mesh_wide_mode_and_a_pushed_mode_overrides_it()
    {
        await using var meshd = await TestMeshd.StartAsync();
        (await meshd.PutPolicyAsync(MeshPki.Service, """{ "Timeout": "00:00:05" }""")).EnsureSuccessStatusCode();
        await using var server = await MeshedServers.StartAsync(
            _pki,
            mode: null,
            mesh: o =>
            {
                o.Mtls.Mode = "Strict";
                o.ControlPlane.Address = meshd.Address.ToString();
                o.ControlPlane.Token = TestMeshd.WorkloadToken;
                o.ControlPlane.CacheDirectory = _cache.Path;
            },
            services: s => s.Configure<MeshServerOptions>(o => o.Register = false));
        var options = server.App.Services.GetRequiredService<IOptionsMonitor<MeshOptions>>();
        await Eventually.WaitAsync(() => options.CurrentValue.Services.TryGetValue(MeshPki.Service, out var pushed) && pushed.Timeout == TimeSpan.FromSeconds(5), "the pushed policy in force");
        Assert.False(await PlaintextServedAsync(server));

        (await meshd.PatchPolicyAsync(MeshPki.Service, """{ "Mtls": { "Mode": "Permissive" } }""")).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => PlaintextServedAsync(server), "the pushed permissive mode to serve plaintext");
    }

    private static async Task<bool> PlaintextServedAsync(TestApp server)
    {
        using var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero });
        try
        {
            using var response = await client.GetAsync(new Uri(server.Address, "/who"));
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
