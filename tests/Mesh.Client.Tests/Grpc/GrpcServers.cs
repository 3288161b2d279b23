using Mesh.Grpc.Inventory;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.Grpc;

/// <summary>Real gRPC inventory servers on 127.0.0.1 (h2c), each with a behaviour the test controls.</summary>
internal sealed class GrpcServers : IAsyncDisposable
{
    private readonly List<TestApp> _apps = [];

    public List<InventoryBehavior> Behaviors { get; } = [];

    public List<Uri> Addresses { get; } = [];

    public static async Task<GrpcServers> StartAsync(int count)
    {
        var servers = new GrpcServers();
        for (var i = 0; i < count; i++)
        {
            var behavior = new InventoryBehavior($"g{i}");
            var app = await TestApp.StartAsync(
                services =>
                {
                    services.AddGrpc();
                    services.AddSingleton(behavior);
                },
                app => app.MapGrpcService<InventoryService>(),
                http2Only: true);
            servers._apps.Add(app);
            servers.Behaviors.Add(behavior);
            servers.Addresses.Add(app.Address);
        }

        return servers;
    }

    public Task StopAsync(int index) => _apps[index].DisposeAsync().AsTask();

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }
    }
}
