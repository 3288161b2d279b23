using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.Chaos.Tests;

/// <summary>
/// Two entry points. <c>--soak [--minutes N]</c> (what <c>dotnet run --project tests/Mesh.Chaos.Tests -- --soak</c>
/// runs): the soak, by hand, as <c>dotnet test</c> of this assembly with <c>MESH_SOAK=1</c> and the soak's filter, its
/// output streamed, its exit code returned. <c>backend</c>: the backend child process the scenarios kill, with
/// <c>--Mesh:*</c> settings and <c>--Backend:Port</c>, <c>--Backend:DelayMs</c>, <c>--Backend:Capacity</c>; a meshed
/// ASP.NET Core service (<c>AddMeshServer()</c>: registration with meshd, lease renewal) answering <c>GET /work</c> with
/// its name after the delay, serving at most Capacity requests at once (the rest wait their turn).
/// </summary>
public static class Program
{
    private const string Usage = """
        usage: dotnet run --project tests/Mesh.Chaos.Tests -- --soak [--minutes N]
               dotnet Mesh.Chaos.Tests.dll backend --Mesh:ServiceName=... --Mesh:ControlPlane:Address=... --Backend:Port=N

          --soak         run the soak (SoakTests with MESH_SOAK=1) through dotnet test on this build, output streamed
          --minutes N    the soak's length in minutes (default 30; 1 to 1440; sets MESH_SOAK_MINUTES)
          --help         this text
          backend        the backend child process the scenarios start (not run by hand)
        """;

    /// <summary>Runs the soak, or the backend until it is stopped or killed.</summary>
    public static async Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args is ["--help" or "-h"])
        {
            await Console.Out.WriteLineAsync(Usage).ConfigureAwait(false);
            return 0;
        }

        if (args.Length > 0 && args[0] == "--soak")
        {
            return await SoakAsync(args[1..]).ConfigureAwait(false);
        }

        if (args.Length == 0 || args[0] != "backend")
        {
            await Console.Error.WriteLineAsync(Usage).ConfigureAwait(false);
            return 2;
        }

        return await BackendAsync(args).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>dotnet test</c> of this assembly with <c>MESH_SOAK=1</c> (and <c>MESH_SOAK_MINUTES</c>) and the soak's filter,
    /// its output going straight to this console; returns its exit code (2 for arguments it does not take).
    /// </summary>
    private static async Task<int> SoakAsync(string[] args)
    {
        string? minutes = null;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--minutes" && i + 1 < args.Length
                && double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value is >= 1 and <= 1440)
            {
                minutes = args[++i];
            }
            else
            {
                await Console.Error.WriteLineAsync($"--soak: '{args[i]}' is not taken here; --minutes takes a number from 1 to 1440.{Environment.NewLine}{Usage}").ConfigureAwait(false);
                return 2;
            }
        }

        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet) { UseShellExecute = false };
        foreach (var argument in new[]
        {
            "test", typeof(Program).Assembly.Location,
            "--filter", "FullyQualifiedName~Mesh.Chaos.Tests.SoakTests",
            "--logger", "console;verbosity=detailed",
        })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["MESH_SOAK"] = "1";
        if (minutes is not null)
        {
            start.Environment["MESH_SOAK_MINUTES"] = minutes;
        }

        await Console.Out.WriteLineAsync($"soak: {minutes ?? Environment.GetEnvironmentVariable("MESH_SOAK_MINUTES") ?? "30"} minutes; dotnet {string.Join(' ', start.ArgumentList)}").ConfigureAwait(false);

        // Ctrl+C reaches the test run too (the same process group): wait for it to end and pass on what it returns.
        Console.CancelKeyPress += (_, e) => e.Cancel = true;
        using var run = Process.Start(start) ?? throw new InvalidOperationException("dotnet test did not start.");
        await run.WaitForExitAsync().ConfigureAwait(false);
        return run.ExitCode;
    }

    private static async Task<int> BackendAsync(string[] args)
    {
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
