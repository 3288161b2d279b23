using Mesh.AspNetCore.Deadlines;
using Mesh.Grpc.Inventory;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Deadlines;

/// <summary>Deadlines reach meshed gRPC calls: from an inbound request's budget, and from an inbound gRPC call's grpc-timeout.</summary>
public sealed class GrpcDeadlineTests
{
    [Fact]
    public async Task An_endpoint_with_a_200_ms_budget_passes_less_than_200_ms_to_the_gRPC_call_it_makes()
    {
        var behavior = new InventoryBehavior("inventory");
        await using var inventory = await TestApp.StartAsync(
            services => services.AddGrpc().Services.AddSingleton(behavior),
            app => app.MapGrpcService<InventoryService>(),
            http2Only: true);
        await using var front = await TestApp.StartAsync(
            services =>
            {
                services.AddRequestTimeouts();
                services.AddMesh(o => o.Services["inventory"] = new MeshServiceOptions { Endpoints = { new(inventory.Address.ToString()) } });
                services.AddGrpcClient<Inventory.InventoryClient>(o => o.Address = new Uri("http://inventory")).AddMesh();
            },
            app =>
            {
                app.UseMeshDeadlines();
                app.MapGet("/checkout", async (Inventory.InventoryClient client) => (await client.GetItemAsync(new ItemRequest { Sku = "a" })).Sku)
                    .WithRequestTimeout(TimeSpan.FromMilliseconds(200));
                app.MapGet("/warm-up", async (Inventory.InventoryClient client) => (await client.GetItemAsync(new ItemRequest { Sku = "w" })).Sku);
            });
        using var caller = new HttpClient();
        Assert.Equal("w", await caller.GetStringAsync(new Uri(front.Address, "/warm-up")));

        Assert.Equal("a", await caller.GetStringAsync(new Uri(front.Address, "/checkout")));

        Assert.Equal(2, behavior.Timeouts.Count);
        var sent = behavior.Timeouts.Last();
        Assert.EndsWith("m", sent, StringComparison.Ordinal);
        Assert.InRange(long.Parse(sent[..^1], System.Globalization.CultureInfo.InvariantCulture), 1, 200);
    }

    [Theory]
    [InlineData("150m", 150)]
    [InlineData("2S", 2000)]
    [InlineData("1000000u", 1000)]
    [InlineData("oops", -1)]
    [InlineData("5x", -1)]
    public void An_inbound_grpc_timeout_becomes_the_deadline(string value, int milliseconds)
    {
        var headers = new HeaderDictionary { ["grpc-timeout"] = value };

        var deadline = MeshDeadlineMiddleware.GrpcTimeout(headers);

        Assert.Equal(milliseconds < 0 ? null : TimeSpan.FromMilliseconds(milliseconds), deadline);
    }
}
