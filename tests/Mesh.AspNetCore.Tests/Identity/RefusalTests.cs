using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Mesh.AspNetCore.Identity;
using Mesh.AspNetCore.Registration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>What a server with an identity refuses, how it counts and logs it, and how it bounds connections that say nothing.</summary>
public sealed class RefusalTests : IDisposable
{
    private readonly MeshPki _pki = new();
    private readonly TestPki _foreign = TestPki.CreateRoot("Mesh Root", trustDomain: MeshPki.TrustDomain);
    private readonly LogCollector _logs = new();

    public void Dispose()
    {
        _foreign.Dispose();
        _pki.Dispose();
    }

    [Fact]
    public async Task Certificates_that_are_no_mesh_SVID_are_refused_counted_by_reason_and_logged_once_per_interval_without_key_material()
    {
        await using var server = await MeshedServers.StartAsync(_pki, "Strict", services: s => s.AddSingleton<ILoggerProvider>(_logs));
        using var handshakes = Metric(server, "mesh.server.tls.handshakes");
        using var connections = Metric(server, "mesh.server.connections");
        using var expired = _pki.Root.Issue(new TestLeaf { Uris = ["spiffe://mesh.local/svc/orders"], NotBefore = DateTimeOffset.UtcNow.AddHours(-2), NotAfter = DateTimeOffset.UtcNow.AddHours(-1) });
        using var noSpiffeId = _pki.Root.Issue(new TestLeaf { Uris = [], DnsNames = ["orders.example"] });

        // One connection each: HttpClient would try a refused request again on new connections.
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(await OneRequestAsync(server, _pki.Svid("orders", _foreign).Context));
        }

        Assert.Null(await OneRequestAsync(server, SslStreamCertificateContext.Create(expired, null, offline: true)));
        Assert.Null(await OneRequestAsync(server, SslStreamCertificateContext.Create(noSpiffeId, null, offline: true)));
        Assert.Null(await OneRequestAsync(server, client: null));
        Assert.Null(await OneRequestAsync(server, client: null));
        Assert.Null(await OneRequestAsync(server, client: null, tls: false));
        Assert.Null(await OneRequestAsync(server, client: null, tls: false));
        Assert.StartsWith("HTTP/1.1 200", await OneRequestAsync(server, _pki.Svid("orders").Context), StringComparison.Ordinal);

        await Eventually.WaitAsync(() => Sum(handshakes, "mesh.tls.reason", null) == 8 && Sum(connections, "mesh.connection.outcome", "plaintext_refused") == 2, "every handshake and refusal to be counted");
        Assert.Equal(3, Sum(handshakes, "mesh.tls.reason", "untrusted"));
        Assert.Equal(1, Sum(handshakes, "mesh.tls.reason", "expired"));
        Assert.Equal(1, Sum(handshakes, "mesh.tls.reason", "not_an_svid"));
        Assert.Equal(2, Sum(handshakes, "mesh.tls.reason", "no_client_certificate"));
        Assert.Equal(1, Sum(handshakes, "mesh.tls.reason", "client_certificate"));

        // Once per reason within the interval: five reasons, five lines, each naming what was wrong and nothing secret.
        var lines = _logs.Entries.Where(e => e.Category == MeshInbound.LogCategory && e.Level == LogLevel.Warning).ToList();
        Assert.Equal(5, lines.Count);
        Assert.Single(lines, e => e.Message.Contains("reason untrusted", StringComparison.Ordinal) && e.Message.Contains("does not chain to a root of trust domain 'mesh.local'", StringComparison.Ordinal));
        Assert.Single(lines, e => e.Message.Contains("reason expired", StringComparison.Ordinal));
        Assert.Single(lines, e => e.Message.Contains("reason not_an_svid", StringComparison.Ordinal) && e.Message.Contains("no URI subject alternative name", StringComparison.Ordinal));
        Assert.Single(lines, e => e.Message.Contains("reason no_client_certificate", StringComparison.Ordinal));
        Assert.Single(lines, e => e.Message.Contains("Refused a plaintext connection", StringComparison.Ordinal));
        Assert.DoesNotContain(_logs.Entries, e => e.Message.Contains("PRIVATE KEY", StringComparison.Ordinal) || e.Message.Contains("BEGIN", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_connection_that_sends_nothing_is_closed_after_the_detection_timeout()
    {
        await using var server = await MeshedServers.StartAsync(_pki, "Permissive", services: s => s.Configure<MeshServerOptions>(o => o.ProtocolDetectionTimeout = TimeSpan.FromMilliseconds(200)));
        using var connections = Metric(server, "mesh.server.connections");
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, server.Address.Port);

        // The guard only stops a broken test; the server closes the connection long before.
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var read = await socket.GetStream().ReadAsync(new byte[1], guard.Token);

        Assert.Equal(0, read);
        await Eventually.WaitAsync(() => Sum(connections, "mesh.connection.outcome", "silent") == 1, "the silent connection to be counted");
    }

    [Fact]
    public async Task Without_a_certificate_of_its_own_the_server_refuses_every_handshake_and_permissive_still_serves_plaintext()
    {
        await using var server = await MeshedServers.StartAsync(_pki, "Permissive", writeCertificate: false);
        using var handshakes = Metric(server, "mesh.server.tls.handshakes");
        using var plaintext = new HttpClient();

        Assert.Null(await OneRequestAsync(server, _pki.Svid("orders").Context));
        using var answer = await plaintext.GetAsync(new Uri(server.Address, "/who"));

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        await Eventually.WaitAsync(() => Sum(handshakes, "mesh.tls.reason", "no_server_certificate") == 1, "the refusal to be counted");
    }

    private static MetricCollector<long> Metric(TestApp server, string name) =>
        new(server.App.Services.GetRequiredService<IMeterFactory>(), "Mesh", name);

    private static long Sum(MetricCollector<long> metric, string tag, string? value) =>
        metric.GetMeasurementSnapshot().Where(m => value is null || m.Tags[tag] as string == value).Sum(m => m.Value);

    /// <summary>Sends one request on one new connection, over TLS presenting <paramref name="client"/> or in plaintext; the answer's first line, or null when the server closed the connection instead.</summary>
    private async Task<string?> OneRequestAsync(TestApp server, SslStreamCertificateContext? client, bool tls = true)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, server.Address.Port);
        Stream stream = socket.GetStream();
        try
        {
            if (tls)
            {
                var secure = new SslStream(stream);
                stream = secure;

                await secure.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = "localhost",
                    ClientCertificateContext = client,
                    RemoteCertificateValidationCallback = (_, certificate, chain, _) => _pki.IsServer(certificate, chain),
                });
            }

            await stream.WriteAsync("GET /who HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"u8.ToArray());
            var answer = await new StreamReader(stream).ReadLineAsync();
            return string.IsNullOrEmpty(answer) ? null : answer;
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException)
        {
            return null;
        }
        finally
        {
            await stream.DisposeAsync();
        }
    }
}
