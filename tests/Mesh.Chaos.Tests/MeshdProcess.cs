using System.Diagnostics;
using System.Globalization;

namespace Mesh.Chaos.Tests;

/// <summary>
/// meshd in a child process of its own (<c>Mesh.ControlPlane.dll</c> from the test's output folder) on a loopback port
/// and a data directory kept across restarts, so a scenario can <c>kill -9</c> it and start it again. Only this process,
/// by its pid; disposed, it is killed.
/// </summary>
internal sealed class MeshdProcess : IDisposable
{
    private readonly TempDirectory _directory = new("meshd-process-");
    private readonly string[] _settings;
    private Process? _process;

    private MeshdProcess(int port, string[] settings)
    {
        Address = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        _settings = settings;
    }

    /// <summary>Gets meshd's address, the same across restarts.</summary>
    public Uri Address { get; }

    /// <summary>Gets the running child's pid (0 when killed).</summary>
    public int Pid => _process is { HasExited: false } p ? p.Id : 0;

    /// <summary>
    /// Starts meshd on a free port, with <paramref name="settings"/> (<c>--Meshd:Key=value</c>) after the suite's own, and
    /// waits until it answers <c>/healthz</c>. Every start again uses the same settings.
    /// </summary>
    public static Task<MeshdProcess> StartAsync(params string[] settings) => LoopbackPorts.StartAsync(1, async ports =>
    {
        var meshd = new MeshdProcess(ports[0], settings);
        try
        {
            await meshd.StartAgainAsync();
            return meshd;
        }
        catch
        {
            meshd.Dispose();
            throw;
        }
    });

    /// <summary>Kills meshd at once (SIGKILL): no graceful stop, parked watchers cut.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            process.WaitForExit(10_000);
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>Starts meshd (again) on the same port and data, and waits until it answers <c>/healthz</c>.</summary>
    public async Task StartAgainAsync()
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])
        [
            Path.Combine(AppContext.BaseDirectory, "Mesh.ControlPlane.dll"),
            $"--Meshd:Urls={Address}",
            $"--Meshd:DataDirectory={_directory.Path}",
            $"--Meshd:AdminToken={TestMeshd.AdminToken}",
            $"--Meshd:WorkloadToken={TestMeshd.WorkloadToken}",
            "--Meshd:LeaseTtl=00:00:08",
            "--Meshd:SweepInterval=00:00:00.100",
            "--Logging:LogLevel:Default=Warning",
            .. _settings,
        ])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var process = Process.Start(start)!;
        _process = process;
        var errors = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Eventually.WaitAsync(async () =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"meshd exited {process.ExitCode}: {await errors}");
            }

            try
            {
                using var response = await client.GetAsync(new Uri(Address, "/healthz"));
                return response.IsSuccessStatusCode;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return false;
            }
        }, "meshd's child process answers /healthz", TimeSpan.FromSeconds(60));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Kill();
        _directory.Dispose();
    }
}
