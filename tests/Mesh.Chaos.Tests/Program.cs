using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.Chaos.Tests;

/// <summary>
/// The entry point of the backend child process the scenarios kill: <c>dotnet Mesh.Chaos.Tests.dll backend</c> with
/// <c>--Mesh:*</c> settings and <c>--Backend:Port</c>, <c>--Backend:DelayMs</c>, <c>--Backend:Capacity</c>. It is a meshed
/// ASP.NET Core service (<c>AddMeshServer()</c>: registration with meshd, lease renewal) answering <c>GET /work</c> with
/// its name after the delay, serving at most Capacity requests at once (the rest wait their turn).
/// </summary>
public static class Program
{
    /// <summary>Runs the backend until it is stopped or killed.</summary>
    public static async Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || args[0] != "backend")
        {
            await Console.Error.WriteLineAsync("usage: Mesh.Chaos.Tests backend --Mesh:ServiceName=... --Mesh:ControlPlane:Address=... --Backend:Port=N").ConfigureAwait(false);
            return 2;
        }

        var builder = WebApplication.CreateSlimBuilder(args[1..]);
        builder.Logging.ClearProviders();
        var port = int.Parse(builder.Configuration["Backend:Port"] ?? "0", CultureInfo.InvariantCulture);
        var delay = TimeSpan.FromMilliseconds(int.Parse(builder.Configuration["Backend:DelayMs"] ?? "0", CultureInfo.InvariantCulture));
        var capacity = int.Parse(builder.Configuration["Backend:Capacity"] ?? "64", CultureInfo.InvariantCulture);
        var name = $"{builder.Configuration["Mesh:ServiceName"]}@{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
        builder.WebHost.UseUrls($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        builder.Services.AddMeshServer();

        using var slots = new SemaphoreSlim(capacity);
        await using var app = builder.Build();
        app.MapGet("/work", async (HttpContext context) =>
        {
            await slots.WaitAsync(context.RequestAborted).ConfigureAwait(false);
            try
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, context.RequestAborted).ConfigureAwait(false);
                }
            }
            finally
            {
                slots.Release();
            }

            return Results.Text(name);
        });
        app.MapGet("/healthz", () => Results.Text("ok"));
        await app.StartAsync().ConfigureAwait(false);
        await Console.Out.WriteLineAsync("ready").ConfigureAwait(false);
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        return 0;
    }
}
