using System.Diagnostics;
using System.Globalization;

namespace Mesh.Chaos.Tests;

/// <summary>
/// A meshed backend in a child process of its own (this assembly's <c>backend</c> mode), registered with meshd, that a
/// scenario can <c>kill -9</c>, <c>SIGSTOP</c> and <c>SIGCONT</c>. Only this process, by its pid; disposed, it is killed.
/// </summary>
internal sealed class BackendProcess : IDisposable
{
    private readonly Process _process;
    private int _stopped;

    private BackendProcess(Process process, int port, Uri advertised)
    {
        _process = process;
        Port = port;
        Advertised = advertised;
    }

    /// <summary>Gets the port the backend listens on.</summary>
    public int Port { get; }

    /// <summary>Gets the address it registered (its own, or a proxy's in front of it).</summary>
    public Uri Advertised { get; }

    /// <summary>Gets the child's pid.</summary>
    public int Pid => _process.Id;

    /// <summary>Gets whether the child has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts a backend of <paramref name="service"/> registered with <paramref name="meshd"/>, on <paramref name="port"/>
    /// (0: one picked here), advertising <paramref name="advertise"/> (null: its own address); returns once it listens.
    /// </summary>
    public static Task<BackendProcess> StartAsync(string service, Uri meshd, string cacheDirectory, int port = 0, Func<int, Uri>? advertise = null, int delayMs = 0, int capacity = 64) =>
        port != 0
            ? StartOnAsync(service, meshd, cacheDirectory, port, advertise, delayMs, capacity)
            : LoopbackPorts.StartAsync(1, ports => StartOnAsync(service, meshd, cacheDirectory, ports[0], advertise, delayMs, capacity));

    /// <summary>Kills the child at once (SIGKILL): no deregistration, no drain, as a crash.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
    }

    /// <summary>Freezes the child (SIGSTOP): its sockets stay open and nothing answers.</summary>
    public void Freeze()
    {
        Signals.Stop(_process.Id);
        Volatile.Write(ref _stopped, 1);
    }

    /// <summary>Lets a frozen child go on (SIGCONT).</summary>
    public void Thaw()
    {
        Signals.Continue(_process.Id);
        Volatile.Write(ref _stopped, 0);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            if (Volatile.Read(ref _stopped) == 1)
            {
                Thaw();
            }

            Kill();
        }
        catch (InvalidOperationException)
        {
            // It ended already.
        }

        _process.Dispose();
    }

    private static async Task<BackendProcess> StartOnAsync(string service, Uri meshd, string cacheDirectory, int port, Func<int, Uri>? advertise, int delayMs, int capacity)
    {
        var own = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        var advertised = advertise?.Invoke(port) ?? own;
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            typeof(BackendProcess).Assembly.Location, "backend",
            $"--Mesh:ServiceName={service}",
            $"--Mesh:ControlPlane:Address={meshd}",
            $"--Mesh:ControlPlane:Token={TestMeshd.WorkloadToken}",
            $"--Mesh:ControlPlane:CacheDirectory={Path.Combine(cacheDirectory, service + "-" + port.ToString(CultureInfo.InvariantCulture))}",
            $"--Mesh:Server:AdvertisedAddress={advertised.GetLeftPart(UriPartial.Authority)}",
            "--Mesh:Server:DrainTime=00:00:00",
            $"--Backend:Port={port.ToString(CultureInfo.InvariantCulture)}",
            $"--Backend:DelayMs={delayMs.ToString(CultureInfo.InvariantCulture)}",
            $"--Backend:Capacity={capacity.ToString(CultureInfo.InvariantCulture)}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_gcServer"] = "0";
        var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
                if (line is null)
                {
                    await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                    throw new InvalidOperationException($"backend {service} on port {port} exited {process.ExitCode}: {await errors.ConfigureAwait(false)}");
                }

                if (line == "ready")
                {
                    break;
                }
            }

            // Keep reading so a full pipe never blocks the child.
            _ = process.StandardOutput.ReadToEndAsync();
            return new BackendProcess(process, port, advertised);
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            process.Dispose();
            throw;
        }
    }
}
