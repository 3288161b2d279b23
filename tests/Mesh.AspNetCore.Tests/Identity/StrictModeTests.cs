using System.Net.Http.Json;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>A strict server on real Kestrel and real TLS: mesh callers over mutual TLS only.</summary>
public sealed class StrictModeTests : IDisposable
{
    private readonly MeshPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task A_mesh_caller_is_served_over_mutual_TLS_and_plaintext_is_refused()
    {
        await using var server = await MeshedServers.StartAsync(_pki, "Strict");
        using var mtls = new HttpClient(_pki.MtlsHandler(_pki.Svid("orders")));
        using var plain = new HttpClient();

        var who = await mtls.GetFromJsonAsync<Who>(new Uri(server.Https(), "/who"));

        Assert.Equal("spiffe://mesh.local/svc/orders", who!.Id);
        Assert.True(who.Https);
        await Assert.ThrowsAsync<HttpRequestException>(() => plain.GetAsync(new Uri(server.Address, "/who")));
    }
}
