using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Mesh.LoadBench;

/// <summary>
/// One nginx reverse proxy on 127.0.0.1, run as a child of this program: its own prefix directory (config, pid file,
/// error log, temp paths), one process (<c>master_process off</c>), keep-alive connections to its upstream, stopped by
/// its pid. Either side may speak mutual TLS: it listens with a certificate and requires one from its callers, or it
/// presents one to its upstream and verifies the upstream's (its chain and its DNS name).
/// </summary>
internal sealed class Nginx : IDisposable
{
    private readonly Process _process;
    private readonly string _prefix;

    private Nginx(Process process, string prefix, int port)
    {
        _process = process;
        _prefix = prefix;
        Port = port;
    }

    public int Port { get; }

    public int Pid => _process.Id;

    /// <summary>Gets the path of nginx, or <see langword="null"/> when it is not installed.</summary>
    public static string? Find()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Append("/usr/sbin").Append("/usr/local/sbin").Append("/usr/local/nginx/sbin"))
        {
            var path = Path.Combine(dir, "nginx");
            if (dir.Length > 0 && File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>
    /// Starts nginx forwarding everything it gets on a free loopback port to <paramref name="upstreams"/> (round robin),
    /// listening over mutual TLS with <paramref name="listenTls"/> and calling its upstreams over it with <paramref name="upstreamTls"/>.
    /// </summary>
    public static async Task<Nginx> StartAsync(
        string executable, string name, IEnumerable<Uri> upstreams, NginxListenTls? listenTls, NginxUpstreamTls? upstreamTls, CancellationToken cancellationToken)
    {
        var prefix = Directory.CreateTempSubdirectory($"mesh-loadbench-{name}-").FullName;
        var port = FreePort();
        var servers = string.Concat(upstreams.Select(u => $"    server {u.Host}:{u.Port};\n"));
        var listen = listenTls is null ? string.Empty : string.Concat(
            " ssl;\n",
            $"    ssl_certificate {listenTls.Certificate};\n",
            $"    ssl_certificate_key {listenTls.Key};\n",
            $"    ssl_client_certificate {listenTls.ClientRoots};\n",
            "    ssl_verify_client on;\n",
            "    ssl_verify_depth 2;\n",
            "    ssl_protocols TLSv1.2 TLSv1.3");
        var proxy = upstreamTls is null ? string.Empty : string.Concat(
            $"\n      proxy_ssl_certificate {upstreamTls.Certificate};",
            $"\n      proxy_ssl_certificate_key {upstreamTls.Key};",
            $"\n      proxy_ssl_trusted_certificate {upstreamTls.Roots};",
            "\n      proxy_ssl_verify on;",
            "\n      proxy_ssl_verify_depth 2;",
            $"\n      proxy_ssl_name {upstreamTls.ServerName};",
            "\n      proxy_ssl_protocols TLSv1.2 TLSv1.3;",
            "\n      proxy_ssl_session_reuse on;");
        var config = $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{prefix}}/nginx.pid;
            error_log {{prefix}}/error.log warn;
            events { worker_connections 4096; }
            http {
              access_log off;
              client_body_temp_path {{prefix}}/client_body;
              proxy_temp_path {{prefix}}/proxy;
              fastcgi_temp_path {{prefix}}/fastcgi;
              uwsgi_temp_path {{prefix}}/uwsgi;
              scgi_temp_path {{prefix}}/scgi;
              keepalive_requests 1000000;
              upstream next {
            {{servers}}    keepalive 64;
                keepalive_requests 1000000;
              }
              server {
                listen 127.0.0.1:{{port}}{{listen}};
                location / {
                  proxy_pass {{(upstreamTls is null ? "http" : "https")}}://next;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";{{proxy}}
                }
              }
            }

            """;
        await File.WriteAllTextAsync(Path.Combine(prefix, "nginx.conf"), config, cancellationToken).ConfigureAwait(false);

        var start = new ProcessStartInfo(executable, ["-p", prefix + "/", "-c", "nginx.conf", "-e", Path.Combine(prefix, "error.log")])
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var process = ChildProcesses.Start(start);
        var nginx = new Nginx(process, prefix, port);
        try
        {
            await nginx.WaitUntilAnsweringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            nginx.Dispose();
            throw;
        }

        return nginx;
    }

    /// <summary>Gets the CPU time nginx has used so far.</summary>
    public TimeSpan CpuTime() => ProcessCpu.Of(Pid);

    public void Dispose()
    {
        ChildProcesses.Stop(_process);
        try
        {
            Directory.Delete(_prefix, recursive: true);
        }
        catch (IOException)
        {
            // A file still held; the temp directory is cleaned some other day.
        }
    }

    private async Task WaitUntilAnsweringAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
        while (true)
        {
            if (_process.HasExited)
            {
                var log = Path.Combine(_prefix, "error.log");
                var text = File.Exists(log) ? await File.ReadAllTextAsync(log, cancellationToken).ConfigureAwait(false) : string.Empty;
                throw new InvalidOperationException($"nginx exited with code {_process.ExitCode}: {await _process.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false)}{text}");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>How an nginx listens over mutual TLS: its certificate and key, and the roots its callers' certificates must chain to.</summary>
internal sealed record NginxListenTls(string Certificate, string Key, string ClientRoots);

/// <summary>How an nginx calls its upstream over mutual TLS: its certificate and key, the roots and the DNS name the upstream's certificate must have.</summary>
internal sealed record NginxUpstreamTls(string Certificate, string Key, string Roots, string ServerName);
