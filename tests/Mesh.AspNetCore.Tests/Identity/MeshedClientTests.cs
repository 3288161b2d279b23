using System.Collections.Concurrent;
using System.Net.Http.Json;
using Mesh.AspNetCore.Identity;
using Mesh.Grpc.Inventory;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>
/// A meshed client in a host of its own reaches a strict server over mutual TLS, by a static endpoint that names the
/// identity the server must present, for HTTP/1.1 and for gRPC over HTTP/2.
/// </summary>
/// <remarks>
/// The client's own outbound mutual TLS is not in this branch yet, so its connections are made by a
/// <see cref="SocketsHttpHandler"/> given the caller's SVID as the mesh's primary handler; the mesh's pipeline (routing to
/// the endpoint, the rewrite to https, the caller header) runs as it will once the client presents the SVID itself.
/// </remarks>
public sealed class MeshedClientTests : IDisposable
{
    private readonly MeshPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task A_meshed_client_reaches_a_strict_server_over_mutual_TLS_for_HTTP_1_1_and_gRPC()
    {
        var grpcCallers = new ConcurrentQueue<string>();
        await using var server = await MeshedServers.StartAsync(
            _pki,
            "Strict",
            services: s => s.AddGrpc().Services.AddSingleton(new InventoryBehavior("payments")),
            pipeline: app =>
            {
                app.Use(async (context, next) =>
                {
                    if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
                    {
                        grpcCallers.Enqueue($"{context.Request.Protocol} {context.Features.Get<IMeshCallerFeature>()?.Id}");
                    }

                    await next(context);
                });
                app.MapGrpcService<InventoryService>();
            });
        var svid = _pki.Svid("orders");
        var services = new ServiceCollection();
        services.AddMesh(o =>
        {
            o.ServiceName = "orders";
            o.Services[MeshPki.Service] = new MeshServiceOptions { Endpoints = { new(server.Https().ToString()) { Identity = MeshPki.ServerId.ToString() } } };
        });
        services.AddHttpClient("payments").ConfigurePrimaryHttpMessageHandler(() => _pki.MtlsHandler(svid)).AddMesh();
        services.AddGrpcClient<Inventory.InventoryClient>(o => o.Address = new Uri("http://payments")).ConfigurePrimaryHttpMessageHandler(() => _pki.MtlsHandler(svid)).AddMesh();
        await using var client = services.BuildServiceProvider();

        var who = await client.GetRequiredService<IHttpClientFactory>().CreateClient("payments").GetFromJsonAsync<Who>("http://payments/who");
        var item = await client.GetRequiredService<Inventory.InventoryClient>().GetItemAsync(new ItemRequest { Sku = "sku-1" });

        Assert.Equal("spiffe://mesh.local/svc/orders", who!.Id);
        Assert.Equal("HTTP/1.1", who.Protocol);
        Assert.True(who.Https);
        Assert.Equal("orders", who.Header);
        Assert.Equal("sku-1", item.Sku);
        Assert.Equal("HTTP/2 spiffe://mesh.local/svc/orders", Assert.Single(grpcCallers));
    }
}
