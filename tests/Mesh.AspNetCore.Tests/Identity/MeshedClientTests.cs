using System.Collections.Concurrent;
using System.Net.Http.Json;
using Mesh.AspNetCore.Identity;
using Mesh.Grpc.Inventory;
using Mesh.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>
/// A meshed client in a host of its own reaches a strict server over mutual TLS on its own connections (the mesh's
/// connector presents its SVID and checks the server's), by a static endpoint that names the identity the server must
/// present, for HTTP/1.1 and for gRPC over HTTP/2; the requests say they are https as they arrive.
/// </summary>
public sealed class MeshedClientTests : IDisposable
{
    private readonly MeshPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task A_meshed_client_reaches_a_strict_server_over_mutual_TLS_for_HTTP_1_1_and_gRPC_with_the_https_scheme()
    {
        var requests = new ConcurrentQueue<string>();
        await using var server = await MeshedServers.StartAsync(
            _pki,
            "Strict",
            services: s =>
            {
                s.AddGrpc().Services.AddSingleton(new InventoryBehavior("payments"));

                // Kestrel would refuse an HTTP/2 :scheme that is not the connection's; allowed here, so the test sees what was sent.
                s.Configure<KestrelServerOptions>(k => k.AllowAlternateSchemes = true);
            },
            pipeline: app =>
            {
                app.Use(async (context, next) =>
                {
                    var target = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
                    requests.Enqueue($"{context.Request.Protocol} {context.Request.Scheme} {context.Request.Host} {target} {context.Features.Get<IMeshCallerFeature>()?.Id}");
                    await next(context);
                });
                app.MapGrpcService<InventoryService>();
            });
        var (certificate, key) = _pki.WriteCaller("orders", "orders");
        var services = new ServiceCollection();
        services.AddMesh(o =>
        {
            o.ServiceName = "orders";
            o.Identity.Source = IdentitySourceNames.Files;
            o.Identity.CertificatePath = certificate;
            o.Identity.KeyPath = key;
            o.Identity.BundlePath = _pki.BundlePath;
            o.Services[MeshPki.Service] = new MeshServiceOptions { Endpoints = { new(server.Address.ToString()) { Identity = MeshPki.ServerId.ToString() } } };
        });
        services.AddHttpClient("payments").AddMesh();
        services.AddGrpcClient<Inventory.InventoryClient>(o => o.Address = new Uri("http://payments")).AddMesh();
        await using var client = services.BuildServiceProvider();
        foreach (var hosted in client.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        var who = await client.GetRequiredService<IHttpClientFactory>().CreateClient("payments").GetFromJsonAsync<Who>("http://payments/who");
        var item = await client.GetRequiredService<Inventory.InventoryClient>().GetItemAsync(new ItemRequest { Sku = "sku-1" });

        Assert.Equal("spiffe://mesh.local/svc/orders", who!.Id);
        Assert.Equal("HTTP/1.1", who.Protocol);
        Assert.True(who.Https);
        Assert.Equal("orders", who.Header);
        Assert.Equal("sku-1", item.Sku);

        // HTTP/1.1 in origin form with the endpoint as Host; gRPC with :scheme https and the endpoint as :authority.
        var authority = $"127.0.0.1:{server.Address.Port}";
        Assert.Equal(
            [$"HTTP/1.1 https {authority} /who spiffe://mesh.local/svc/orders", $"HTTP/2 https {authority} /inventory.Inventory/GetItem spiffe://mesh.local/svc/orders"],
            requests);
    }
}
