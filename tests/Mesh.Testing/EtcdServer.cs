using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit;

namespace Mesh.Testing;

/// <summary>
/// A real etcd (Debian's <c>etcd-server</c>) on 127.0.0.1 with free ports and a temporary data directory, shared by
/// the tests of one collection and killed by its pid at the end. <see cref="StartAsync(EtcdServerOptions)"/> starts
/// one of a test's own, with TLS or with authentication.
/// </summary>
public sealed class EtcdServer : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new("etcd-");
    private readonly EtcdServerOptions _options;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _log = new();
    private Process? _process;

    /// <summary>An etcd on plain HTTP without authentication (the shared one).</summary>
    public EtcdServer()
        : this(new EtcdServerOptions())
    {
    }

    private EtcdServer(EtcdServerOptions options) => _options = options;

    public Uri Endpoint { get; private set; } = new("http://127.0.0.1:2379");

    /// <summary>Gets etcd's last log lines (its JSON lines when <see cref="EtcdServerOptions.AuthTokenTtlSeconds"/> is set).</summary>
    public IReadOnlyCollection<string> Log => _log;

    /// <summary>Starts an etcd of the test's own with <paramref name="options"/>; dispose it at the end of the test.</summary>
    public static async Task<EtcdServer> StartAsync(EtcdServerOptions options)
    {
        var etcd = new EtcdServer(options);
        try
        {
            await etcd.InitializeAsync();
            return etcd;
        }
        catch
        {
            await etcd.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Turns on etcd's authentication, as an operator would: a <c>root</c> user with the root role, and
    /// <paramref name="user"/> with read and write under <paramref name="prefix"/> only.
    /// </summary>
    public async Task EnableAuthenticationAsync(string user, string password, string prefix)
    {
        using var channel = Channel();
        var auth = new Auth.AuthClient(channel);
        await auth.UserAddAsync(new AuthUserAddRequest { Name = "root", Password = "root-" + password });
        await auth.UserGrantRoleAsync(new AuthUserGrantRoleRequest { User = "root", Role = "root" });
        await auth.RoleAddAsync(new AuthRoleAddRequest { Name = "mesh" });
        var key = Google.Protobuf.ByteString.CopyFromUtf8(prefix);
        var end = key.ToByteArray();
        end[^1]++;
        await auth.RoleGrantPermissionAsync(new AuthRoleGrantPermissionRequest
        {
            Name = "mesh",
            Perm = new Authpb.Permission { PermType = Authpb.Permission.Types.Type.Readwrite, Key = key, RangeEnd = Google.Protobuf.ByteString.CopyFrom(end) },
        });
        await auth.UserAddAsync(new AuthUserAddRequest { Name = user, Password = password });
        await auth.UserGrantRoleAsync(new AuthUserGrantRoleRequest { User = user, Role = "mesh" });
        await auth.AuthEnableAsync(new AuthEnableRequest());
    }

    /// <summary>Reads a key as <paramref name="user"/>; null when it is absent.</summary>
    public async Task<string?> GetAsync(string key, string user, string password)
    {
        using var channel = Channel();
        var token = (await new Auth.AuthClient(channel).AuthenticateAsync(new AuthenticateRequest { Name = user, Password = password })).Token;
        var response = await new KV.KVClient(channel).RangeAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(key) }, new Metadata { { "token", token } });
        return response.Kvs.Count == 0 ? null : response.Kvs[0].Value.ToStringUtf8();
    }

    /// <summary>Writes <paramref name="value"/> at <paramref name="key"/>; returns the revision of the write.</summary>
    public async Task<long> PutAsync(string key, string value)
    {
        using var channel = Channel();
        var response = await new KV.KVClient(channel).PutAsync(new PutRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(key), Value = Google.Protobuf.ByteString.CopyFromUtf8(value) });
        return response.Header.Revision;
    }

    /// <summary>Writes <paramref name="value"/> at <paramref name="key"/> signed in as <paramref name="user"/>, on an etcd with authentication on.</summary>
    public async Task<long> PutAsync(string key, string value, string user, string password)
    {
        using var channel = Channel();
        var token = (await new Auth.AuthClient(channel).AuthenticateAsync(new AuthenticateRequest { Name = user, Password = password })).Token;
        var response = await new KV.KVClient(channel).PutAsync(new PutRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(key), Value = Google.Protobuf.ByteString.CopyFromUtf8(value) }, new Metadata { { "token", token } });
        return response.Header.Revision;
    }

    /// <summary>Deletes <paramref name="key"/>; returns the revision of the delete.</summary>
    public async Task<long> DeleteAsync(string key)
    {
        using var channel = Channel();
        var response = await new KV.KVClient(channel).DeleteRangeAsync(new DeleteRangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(key) });
        return response.Header.Revision;
    }

    /// <summary>Compacts the history up to <paramref name="revision"/>, so a watch from an older one is refused.</summary>
    public async Task CompactAsync(long revision)
    {
        using var channel = Channel();
        await new KV.KVClient(channel).CompactAsync(new CompactionRequest { Revision = revision, Physical = true });
    }

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
        var tls = _options.CertificateFile is not null;
        var url = $"{(tls ? "https" : "http")}://127.0.0.1:{_clientPort}";
        var peer = _peerPort;
        Endpoint = new Uri(url);
        var start = new ProcessStartInfo("etcd") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[]
        {
            "--name", "meshd-test", "--data-dir", Path.Combine(_directory.Path, "etcd"),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", $"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{peer}",
            "--initial-cluster", $"meshd-test=http://127.0.0.1:{peer}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var argument in Arguments(_options))
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
        var log = _log;
        var keep = _options.AuthTokenTtlSeconds is null ? 50 : 5000;
        _process.OutputDataReceived += (_, e) => Keep(log, e.Data, keep);
        _process.ErrorDataReceived += (_, e) => Keep(log, e.Data, keep);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient(HealthHandler(_options)) { Timeout = TimeSpan.FromSeconds(2) };
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

    private static IEnumerable<string> Arguments(EtcdServerOptions options)
    {
        if (options.CertificateFile is { } certificate && options.KeyFile is { } key)
        {
            yield return "--cert-file";
            yield return certificate;
            yield return "--key-file";
            yield return key;
        }

        if (options.ClientCaFile is { } clientCa)
        {
            yield return "--client-cert-auth";
            yield return "--trusted-ca-file";
            yield return clientCa;
        }

        if (options.AuthTokenTtlSeconds is { } ttl)
        {
            // zap's JSON lines say when a token is dropped ("deleted a simple token"), which a test can wait for.
            yield return "--auth-token";
            yield return "simple";
            yield return "--auth-token-ttl";
            yield return ttl.ToString(System.Globalization.CultureInfo.InvariantCulture);
            yield return "--logger";
            yield return "zap";
            yield return "--log-level";
            yield return "info";
        }
        else
        {
            yield return "--log-level";
            yield return "error";
        }
    }

    // Over TLS, with the options' trust and client certificate, as the health probe.
    private GrpcChannel Channel() => GrpcChannel.ForAddress(Endpoint, new GrpcChannelOptions { HttpHandler = HealthHandler(_options) });

    private static SocketsHttpHandler HealthHandler(EtcdServerOptions options)
    {
        var handler = new SocketsHttpHandler();
        if (options.ClientCertificate is { } client)
        {
            handler.SslOptions.ClientCertificates = [client];
        }

        if (options.Trust is { } trust)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(trust);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return certificate is X509Certificate2 leaf && chain.Build(leaf);
            };
        }

        return handler;
    }

    private static void Keep(System.Collections.Concurrent.ConcurrentQueue<string> log, string? line, int keep)
    {
        if (line is null)
        {
            return;
        }

        log.Enqueue(line);
        while (log.Count > keep && log.TryDequeue(out _))
        {
        }
    }
}

/// <summary>How a test's own etcd is started: TLS from PEM files, client certificates, authentication tokens.</summary>
public sealed record EtcdServerOptions
{
    /// <summary>Gets etcd's server certificate (PEM); with it etcd serves https only.</summary>
    public string? CertificateFile { get; init; }

    /// <summary>Gets the key of <see cref="CertificateFile"/> (PEM).</summary>
    public string? KeyFile { get; init; }

    /// <summary>Gets the roots client certificates must chain to; when set etcd refuses clients without one.</summary>
    public string? ClientCaFile { get; init; }

    /// <summary>Gets the root the test trusts for etcd's certificate (its own health checks).</summary>
    public X509Certificate2? Trust { get; init; }

    /// <summary>Gets the client certificate the test presents (its own health checks).</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Gets the life of an idle authentication token in seconds (<c>--auth-token-ttl</c>); set to use authentication.</summary>
    public int? AuthTokenTtlSeconds { get; init; }
}
