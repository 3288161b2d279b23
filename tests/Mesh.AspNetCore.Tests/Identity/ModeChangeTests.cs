using System.Net.Http.Json;
using Mesh.AspNetCore.Registration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>The server's mode, pushed through a real meshd, applies to the next connection without a restart.</summary>
public sealed class ModeChangeTests : IDisposable
{
    private readonly MeshPki _pki = new();
    private readonly TempDirectory _cache = new("mesh-mode-");

    public void Dispose()
    {
        _cache.Dispose();
        _pki.Dispose();
    }

    [Fact]
    public async Task A_mode_pushed_by_meshd_from_permissive_to_strict_applies_to_the_next_connection()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await using var server = await MeshedServers.StartAsync(
            _pki,
            mode: null,
            mesh: o =>
            {
                o.ControlPlane.Address = meshd.Address.ToString();
                o.ControlPlane.Token = TestMeshd.WorkloadToken;
                o.ControlPlane.CacheDirectory = _cache.Path;
            },
            services: s => s.Configure<MeshServerOptions>(o => o.Register = false));
        using var mtls = new HttpClient(_pki.MtlsHandler(_pki.Svid("orders")));
        using var kept = new HttpClient();
        var keptConnection = (await kept.GetFromJsonAsync<Who>(new Uri(server.Address, "/who")))!.Connection;

        (await meshd.PutPolicyAsync(MeshPki.Service, """{ "Mtls": { "Mode": "Strict" } }""")).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(async () => !await PlaintextServedAsync(server), "a new plaintext connection to be refused");

        Assert.Equal("spiffe://mesh.local/svc/orders", (await mtls.GetFromJsonAsync<Who>(new Uri(server.Https(), "/who")))!.Id);

        // A connection accepted under the old mode keeps it for its life; the mode is read once per connection.
        Assert.Equal(keptConnection, (await kept.GetFromJsonAsync<Who>(new Uri(server.Address, "/who")))!.Connection);

        (await meshd.PatchPolicyAsync(MeshPki.Service, """{ "Mtls": { "Mode": "Permissive" } }""")).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => PlaintextServedAsync(server), "a new plaintext connection to be served again");
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
