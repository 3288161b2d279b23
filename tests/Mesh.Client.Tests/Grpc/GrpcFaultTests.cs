using Grpc.Core;
using Mesh.Grpc.Inventory;
using Mesh.Utilities;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using StatusCode = Grpc.Core.StatusCode;

namespace Mesh.Client.Tests.Grpc;

/// <summary>A route's gRPC abort against a real gRPC server: the client gets the configured status, and retries see it as a server's.</summary>
public sealed class GrpcFaultTests : IAsyncLifetime
{
    private GrpcServers _servers = null!;

    public async Task InitializeAsync() => _servers = await GrpcServers.StartAsync(1);

    public async Task DisposeAsync() => await _servers.DisposeAsync();

    [Fact]
    public async Task An_abort_with_a_gRPC_status_ends_the_call_with_that_status_unsent()
    {
        await using var provider = Client(new()
        {
            ["Mesh:Services:inventory:Routes:0:Fault:Abort:Percent"] = "100",
            ["Mesh:Services:inventory:Routes:0:Fault:Abort:GrpcStatus"] = "8",
        });
        var client = provider.GetRequiredService<Inventory.InventoryClient>();

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.GetItemAsync(new ItemRequest { Sku = "a" }));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("fault injected by route '#0'", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, _servers.Behaviors[0].Calls);
    }

    [Fact]
    public async Task An_injected_UNAVAILABLE_is_retried_as_the_server_would_have_been()
    {
        await using var provider = Client(new()
        {
            ["Mesh:Services:inventory:Retry:Budget:Ratio"] = "1",
            ["Mesh:Services:inventory:Retry:Budget:MinPerSecond"] = "100000",
            ["Mesh:Services:inventory:Retry:MaxAttempts"] = "10",
            ["Mesh:Services:inventory:Retry:Backoff"] = "00:00:00",
            ["Mesh:Services:inventory:Retry:MaxBackoff"] = "00:00:00",
            ["Mesh:Services:inventory:Routes:0:Fault:Abort:Percent"] = "30",
            ["Mesh:Services:inventory:Routes:0:Fault:Abort:GrpcStatus"] = "14",
        });
        var client = provider.GetRequiredService<Inventory.InventoryClient>();

        for (var i = 0; i < 50; i++)
        {
            var item = await client.GetItemAsync(new ItemRequest { Sku = $"sku-{i}" });
            Assert.Equal($"sku-{i}", item.Sku);
        }

        // Each call reached the server once, its attempts before aborted and retried; the server learns of them (gRFC A6).
        Assert.Equal(50, _servers.Behaviors[0].Calls);
        Assert.False(_servers.Behaviors[0].PreviousAttempts.IsEmpty, "no call was aborted and retried");
    }

    private ServiceProvider Client(Dictionary<string, string?> extra)
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0"] = _servers.Addresses[0].ToString(),
            ["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false",
            ["Mesh:Services:inventory:CircuitBreaker:Enabled"] = "false",
        };
        foreach (var (key, value) in extra)
        {
            config[key] = value;
        }

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        services.AddMesh();

        // Seeded, so which attempts are aborted is the same on every run (ten aborts in a row would fail a call).
        services.AddSingleton(MeshRandom.Seeded(30));
        services.AddGrpcClient<Inventory.InventoryClient>(o => o.Address = new Uri("http://inventory")).AddMesh();
        return services.BuildServiceProvider();
    }
}
