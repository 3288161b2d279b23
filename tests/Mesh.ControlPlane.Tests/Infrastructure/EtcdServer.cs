using System.Diagnostics;

namespace Meshd.Tests.Infrastructure;

/// <summary>
/// A real etcd (Debian's <c>etcd-server</c>) on 127.0.0.1 with free ports and a temporary data directory, shared by
/// the tests of one collection and killed by its pid at the end.
/// </summary>
public sealed class EtcdServer : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new("etcd-");
    private Process? _process;

    public Uri Endpoint { get; private set; } = new("http://127.0.0.1:2379");

    private int _clientPort;
    private int _peerPort;

    public Task InitializeAsync() => LoopbackPorts.StartAsync(2, async ports =>
    {
        (_clientPort, _peerPort) = (ports[0], ports[1]);
        await StartAsync();
        return Endpoint;
    });

    /// <summary>SIGKILL, as a crash or an outage.</summary>
    public void Kill()
    {
        var process = Interlocked.Exchange(ref _process, null);
        if (process is not null)
        {
            process.Kill();
            process.WaitForExit(10_000);
            process.Dispose();
        }
    }

    /// <summary>Starts etcd again on the same ports and data, as after an outage.</summary>
    public Task RestartAsync() => StartAsync();

    private async Task StartAsync()
    {
        var url = $"http://127.0.0.1:{_clientPort}";
        var peer = _peerPort;
        Endpoint = new Uri(url);
        var start = new ProcessStartInfo("etcd") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[]
        {
            "--name", "meshd-test", "--data-dir", Path.Combine(_directory.Path, "etcd"),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", $"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{peer}",
            "--initial-cluster", $"meshd-test=http://127.0.0.1:{peer}", "--log-level", "error",
        })
        {
            start.ArgumentList.Add(argument);
        }

        // Debian's etcd refuses some architectures unless told; harmless where it is supported.
        start.Environment["ETCD_UNSUPPORTED_ARCH"] = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : string.Empty;
        if (string.IsNullOrEmpty(start.Environment["ETCD_UNSUPPORTED_ARCH"]))
        {
            start.Environment.Remove("ETCD_UNSUPPORTED_ARCH");
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("etcd did not start.");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        _process.OutputDataReceived += (_, e) => Keep(log, e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(log, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"etcd exited with {_process.ExitCode}; is etcd-server installed (apt-get install -y etcd-server)?\n{string.Join('\n', log)}");
            }

            try
            {
                var health = await http.GetStringAsync(new Uri(Endpoint, "/health"));
                if (health.Contains("\"health\":\"true\"", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("etcd did not become healthy within 20 s.");
            }

            await Task.Delay(50);
        }
    }

    public void Dispose() => DisposeAsync().GetAwaiter().GetResult();

    public Task DisposeAsync()
    {
        Kill();
        _directory.Dispose();
        return Task.CompletedTask;
    }

    private static void Keep(System.Collections.Concurrent.ConcurrentQueue<string> log, string? line)
    {
        if (line is null)
        {
            return;
        }

        log.Enqueue(line);
        while (log.Count > 50 && log.TryDequeue(out _))
        {
        }
    }
}

/// <summary>The tests that share one etcd.</summary>
[CollectionDefinition(Name)]
public sealed class EtcdGroup : ICollectionFixture<EtcdServer>
{
    public const string Name = "etcd";
}
