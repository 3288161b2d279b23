using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Mesh.Testing;

/// <summary>
/// A real DNS server (Debian's <c>dnsmasq</c>) on 127.0.0.1 with a free port, answering only from the records it is
/// given (<c>srv-host=</c> and <c>host-record=</c> lines), authoritative for <see cref="Domain"/> (a name in it that has
/// no records is <c>NXDOMAIN</c>) and asking no upstream server. New records are served by restarting it on the same
/// port (dnsmasq reads SRV records only at start). It is killed by its pid, never by name.
/// </summary>
public sealed class TestDnsServer : IDisposable
{
    /// <summary>The domain the server is authoritative for.</summary>
    public const string Domain = "mesh.test";

    private readonly TempDirectory _directory = new("dnsmasq-");
    private readonly ConcurrentQueue<string> _log = new();
    private readonly int _ttl;
    private Process? _process;

    private TestDnsServer(int port, int ttl)
    {
        Port = port;
        _ttl = ttl;
    }

    /// <summary>Gets the port the server listens on, over UDP and TCP.</summary>
    public int Port { get; }

    /// <summary>Gets the server's address as <c>Mesh:Discovery:Dns:Server</c> takes it.</summary>
    public string Server => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Gets what dnsmasq printed.</summary>
    public IReadOnlyCollection<string> Log => _log;

    /// <summary>Gets the pid of the running dnsmasq, or <see langword="null"/> when stopped.</summary>
    public int? Pid => _process?.Id;

    /// <summary>Starts dnsmasq with <paramref name="records"/> (dnsmasq configuration lines), every local record answered with time to live <paramref name="ttl"/> seconds.</summary>
    public static Task<TestDnsServer> StartAsync(IEnumerable<string> records, int ttl = 1)
    {
        var lines = records.ToList();
        return LoopbackPorts.StartAsync(1, async ports =>
        {
            var server = new TestDnsServer(ports[0], ttl);
            try
            {
                await server.RunAsync(lines).ConfigureAwait(false);
                return server;
            }
            catch
            {
                server.Dispose();
                throw;
            }
        });
    }

    /// <summary>An SRV line: <paramref name="name"/> (such as <c>_http._tcp.inventory.mesh.test</c>) served by <paramref name="target"/>.</summary>
    public static string Srv(string name, string target, int port, int priority = 0, int weight = 0) =>
        string.Create(CultureInfo.InvariantCulture, $"srv-host={name},{target},{port},{priority},{weight}");

    /// <summary>An A (or AAAA) line with an optional time to live of its own.</summary>
    public static string Host(string name, string address, int? ttl = null) =>
        ttl is { } seconds ? string.Create(CultureInfo.InvariantCulture, $"host-record={name},{address},{seconds}") : $"host-record={name},{address}";

    /// <summary>Stops dnsmasq and starts it again on the same port with <paramref name="records"/>, as when records change.</summary>
    public async Task RestartAsync(IEnumerable<string> records)
    {
        Stop();
        await RunAsync([.. records]).ConfigureAwait(false);
    }

    /// <summary>Kills the dnsmasq this server started (by its pid), as an outage; queries then get no answer.</summary>
    public void Stop()
    {
        var process = Interlocked.Exchange(ref _process, null);
        if (process is null)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill();
            process.WaitForExit(10_000);
        }

        process.Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Stop();
        _directory.Dispose();
    }

    private async Task RunAsync(List<string> records)
    {
        var conf = Path.Combine(_directory.Path, "dnsmasq.conf");
        var lines = new List<string>
        {
            $"local=/{Domain}/",
            string.Create(CultureInfo.InvariantCulture, $"local-ttl={_ttl}"),
            string.Create(CultureInfo.InvariantCulture, $"auth-ttl={_ttl}"),
        };
        lines.AddRange(records);
        await File.WriteAllLinesAsync(conf, lines).ConfigureAwait(false);

        var start = new ProcessStartInfo("dnsmasq") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[]
        {
            "--no-daemon", $"--port={Port.ToString(CultureInfo.InvariantCulture)}", "--listen-address=127.0.0.1", "--bind-interfaces",
            "--no-resolv", "--no-hosts", "--no-poll", "--pid-file", "--log-facility=-", $"--conf-file={conf}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dnsmasq did not start.");
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        // Ready when it takes TCP connections on its port (it binds UDP first).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            if (process.HasExited)
            {
                var log = string.Join("\n", _log);
                _process = null;
                throw new InvalidOperationException($"dnsmasq exited with {process.ExitCode}: {log}");
            }

            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port)).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20).ConfigureAwait(false);
            }
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _log.Enqueue(line);
        while (_log.Count > 200 && _log.TryDequeue(out _))
        {
        }
    }
}
