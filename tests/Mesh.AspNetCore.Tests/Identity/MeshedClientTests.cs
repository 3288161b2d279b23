using System.Collections.Concurrent;
using System.Net.Http.Json;
using Mesh.AspNetCore.Identity;
using Mesh.Grpc.Inventory;
using Mesh.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>
/// A meshed client in a host of its own reaches a strict server over mutual TLS, by a static endpoint that names the
/// identity the server must present, for HTTP/1.1 and for gRPC over HTTP/2.
/// </summary>
/// <remarks>
/// The client's own outbound mutual TLS is not in this branch's base, so the client's connections are made by a
/// <see cref="SocketsHttpHandler"/> given the caller's SVID as the mesh's primary handler, while the mesh's pipeline (the
/// endpoint, its identity, the caller header) runs as usual. The client also has the same SVID as its workload identity
/// (files), which a client with outbound mutual TLS presents itself on the same handler.
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
        var (certificate, key) = _pki.WriteCaller("orders", "orders");
        var svid = WorkloadSvid.FromPem(await File.ReadAllTextAsync(certificate), await File.ReadAllTextAsync(key), certificate);
        var services = new ServiceCollection();
        services.AddMesh(o =>
        {
            o.ServiceName = "orders";
            o.Identity.Source = IdentitySourceNames.Files;
            o.Identity.CertificatePath = certificate;
            o.Identity.KeyPath = key;
            o.Identity.BundlePath = _pki.BundlePath;
            o.Services[MeshPki.Service] = new MeshServiceOptions { Endpoints = { new(server.Https().ToString()) { Identity = MeshPki.ServerId.ToString() } } };
        });
        services.AddHttpClient("payments").ConfigurePrimaryHttpMessageHandler(() => _pki.MtlsHandler(svid)).AddMesh();
        services.AddGrpcClient<Inventory.InventoryClient>(o => o.Address = new Uri("http://payments")).ConfigurePrimaryHttpMessageHandler(() => _pki.MtlsHandler(svid)).AddMesh();
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
        Assert.Equal("HTTP/2 spiffe://mesh.local/svc/orders", Assert.Single(grpcCallers));
    }
}
