using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Mesh.Grpc.Inventory;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Demo.Scenes;

/// <summary>
/// A meshed gRPC client: every call balanced on its own over three gRPC servers, UNAVAILABLE retried elsewhere, a
/// stopped server costing no call, and a deadline ending as DEADLINE_EXCEEDED.
/// </summary>
internal sealed class GrpcScene : IScene
{
    public string Title => "gRPC: per-call balancing, UNAVAILABLE retried, a server stopped, a deadline";

    public async Task RunAsync(DemoOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var servers = new List<(WebApplication App, InventoryBehavior Behavior, Uri Address)>();
        for (var i = 0; i < 3; i++)
        {
            servers.Add(await StartServerAsync($"i{i}"));
        }

        try
        {
            var services = new ServiceCollection();
            services.AddMesh(o =>
            {
                o.Services["inventory"] = new MeshServiceOptions { LoadBalancer = "RoundRobin" };
                foreach (var (_, _, address) in servers)
                {
                    o.Services["inventory"].Endpoints.Add(new(address.ToString()));
                }
            });
            services.AddGrpcClient<Inventory.InventoryClient>(o => o.Address = new Uri("http://inventory")).AddMesh();
            await using var provider = services.BuildServiceProvider();
            var client = provider.GetRequiredService<Inventory.InventoryClient>();
            var calls = options.Requests(900);

            output.WriteLine($"  {"phase",-40} {"calls",6} {"ok",6} {"failed",7} {"i0",6} {"i1",6} {"i2",6}");
            await PhaseAsync("unary calls, round robin", calls);

            servers[0].Behavior.FailNext(Enumerable.Repeat(StatusCode.Unavailable, calls / 10).ToArray());
            await PhaseAsync("i0 answers UNAVAILABLE, then is ejected", calls);

            await servers[1].App.StopAsync(CancellationToken.None);
            await PhaseAsync("i1 stopped", calls);

            foreach (var (_, behavior, _) in servers)
            {
                behavior.Delay = TimeSpan.FromSeconds(1);
            }

            var started = Stopwatch.GetTimestamp();
            try
            {
                await client.GetItemAsync(new ItemRequest { Sku = "late" }, deadline: DateTime.UtcNow.AddMilliseconds(100), cancellationToken: cancellationToken);
            }
            catch (RpcException ex)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  a 100 ms deadline against a server that waits 1 s: {ex.StatusCode} after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms"));
            }

            output.WriteLine();
            output.WriteLine("  Each call is balanced by the mesh (the channel's own balancing is off); a trailers-only UNAVAILABLE is");
            output.WriteLine("  retried on another server with grpc-previous-rpc-attempts; the deadline travels as grpc-timeout.");

            async Task PhaseAsync(string phase, int count)
            {
                var before = servers.Select(s => s.Behavior.Calls).ToArray();
                int ok = 0, failed = 0;
                var next = -1;
                await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
                {
                    while (Interlocked.Increment(ref next) < count)
                    {
                        try
                        {
                            await client.GetItemAsync(new ItemRequest { Sku = "sku" }, cancellationToken: cancellationToken);
                            Interlocked.Increment(ref ok);
                        }
                        catch (RpcException)
                        {
                            Interlocked.Increment(ref failed);
                        }
                    }
                }));
                var served = servers.Select((s, i) => s.Behavior.Calls - before[i]).ToArray();
                output.WriteLine($"  {phase,-40} {count,6} {ok,6} {failed,7} {served[0],6} {served[1],6} {served[2],6}");
            }
        }
        finally
        {
            foreach (var (app, _, _) in servers)
            {
                await app.DisposeAsync();
            }
        }
    }

    private static async Task<(WebApplication, InventoryBehavior, Uri)> StartServerAsync(string name)
    {
        var behavior = new InventoryBehavior(name);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(behavior);
        var app = builder.Build();
        app.MapGrpcService<InventoryService>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return (app, behavior, new Uri(address));
    }
}
