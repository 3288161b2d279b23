using System.Diagnostics;
using System.Text.Json;
using Mesh.Grpc.Inventory;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.LoadBench;

/// <summary>
/// The comparison's backends, in a child process so that the client's CPU time is the client's alone: HTTP/1.1
/// servers answering a short text, and h2c gRPC inventory servers. The child prints one line with their addresses and
/// serves until its standard input closes or it is killed.
/// </summary>
internal static class Serve
{
    public const string ReadyPrefix = "ready ";

    private static readonly byte[] Body = "{\"sku\":\"a\",\"quantity\":42}"u8.ToArray();

    /// <summary>Runs in the child: starts the servers, reports their addresses, and waits for the parent to let go.</summary>
    public static async Task<int> RunAsync(BenchOptions options)
    {
        var apps = new List<WebApplication>();
        try
        {
            var http = new List<string>();
            var grpc = new List<string>();
            for (var i = 0; i < options.HttpBackends; i++)
            {
                var app = await StartAsync(HttpProtocols.Http1, _ => { }, a => a.Run(AnswerAsync)).ConfigureAwait(false);
                apps.Add(app);
                http.Add(Address(app));
            }

            for (var i = 0; i < options.GrpcBackends; i++)
            {
                var behavior = new InventoryBehavior($"g{i}");
                var app = await StartAsync(
                    HttpProtocols.Http2,
                    s =>
                    {
                        s.AddGrpc();
                        s.AddSingleton(behavior);
                    },
                    a => a.MapGrpcService<InventoryService>()).ConfigureAwait(false);
                apps.Add(app);
                grpc.Add(Address(app));
            }

            await Console.Out.WriteLineAsync(ReadyPrefix + JsonSerializer.Serialize(new Addresses(http, grpc))).ConfigureAwait(false);
            await Console.Out.FlushAsync().ConfigureAwait(false);

            // The parent closes our standard input (or dies, which closes it too): then we stop.
            while (await Console.In.ReadLineAsync().ConfigureAwait(false) is not null)
            {
            }

            return 0;
        }
        finally
        {
            foreach (var app in apps)
            {
                await app.StopAsync().ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs in the parent: starts the child and reads the addresses it reports.</summary>
    public static async Task<(Process Process, Addresses Addresses)> StartChildAsync(int http, int grpc, CancellationToken cancellationToken)
    {
        var start = ChildProcesses.Self("serve", "--http", http.ToString(System.Globalization.CultureInfo.InvariantCulture), "--grpc", grpc.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        var process = ChildProcesses.Start(start);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"the backend process (pid {process.Id}) ended before it was ready");
            if (line.StartsWith(ReadyPrefix, StringComparison.Ordinal))
            {
                return (process, JsonSerializer.Deserialize<Addresses>(line[ReadyPrefix.Length..])!);
            }
        }
    }

    public static Task<WebApplication> StartHttpAsync(Action<WebApplication> pipeline) =>
        StartAsync(HttpProtocols.Http1, _ => { }, pipeline);

    private static async Task<WebApplication> StartAsync(HttpProtocols protocols, Action<IServiceCollection> services, Action<WebApplication> pipeline)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.Protocols = protocols));
        services(builder.Services);
        var app = builder.Build();
        pipeline(app);
        await app.StartAsync().ConfigureAwait(false);
        return app;
    }

    public static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();

    private static Task AnswerAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = Body.Length;
        return context.Response.Body.WriteAsync(Body, context.RequestAborted).AsTask();
    }
}

/// <summary>The addresses the backend process listens on.</summary>
internal sealed record Addresses(IReadOnlyList<string> Http, IReadOnlyList<string> Grpc);
