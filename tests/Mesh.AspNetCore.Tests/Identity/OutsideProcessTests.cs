using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Xunit.Abstractions;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>
/// The server's modes seen from outside the process, by Debian's curl and openssl s_client on loopback: what a strict,
/// a permissive and an off server accept and refuse, with certificates of the mesh and of another CA.
/// </summary>
public sealed class OutsideProcessTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);
    private readonly MeshPki _pki = new();
    private readonly TestPki _foreign = TestPki.CreateRoot("Mesh Root", trustDomain: MeshPki.TrustDomain);

    public void Dispose()
    {
        _foreign.Dispose();
        _pki.Dispose();
    }

    [Fact]
    public async Task Strict_refuses_plaintext_and_a_foreign_certificate_and_serves_a_mesh_caller()
    {
        await using var server = await MeshedServers.StartAsync(_pki, "Strict");
        using var handshakes = Handshakes(server);
        var mesh = _pki.WriteCaller("orders", "orders");

        // Another CA's certificate for the very same identity: only the chain tells it apart.
        var foreign = _pki.WriteCaller("foreign", "orders", _foreign);

        var plaintext = await CurlAsync(server, "http", null);
        var foreignCurl = await CurlAsync(server, "https", foreign);
        var foreignTls12 = await OpenSslAsync(server, foreign, "-tls1_2");
        var foreignTls13 = await OpenSslAsync(server, foreign, "-tls1_3");
        var meshCurl = await CurlAsync(server, "https", mesh);
        var meshOpenSsl = await OpenSslAsync(server, mesh);

        Assert.NotEqual(0, plaintext.ExitCode);
        Assert.NotEqual(0, foreignCurl.ExitCode);
        Assert.DoesNotContain("spiffe://", foreignCurl.Output, StringComparison.Ordinal);

        // TLS 1.2 refuses the client certificate inside the handshake; TLS 1.3 right after it, before any request is read.
        Assert.NotEqual(0, foreignTls12.ExitCode);
        Assert.DoesNotContain("HTTP/1.1 200", foreignTls12.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("HTTP/1.1 200", foreignTls13.Output, StringComparison.Ordinal);

        Assert.Equal(0, meshCurl.ExitCode);
        Assert.Equal("spiffe://mesh.local/svc/orders", Who(meshCurl.Output).Id);
        Assert.Contains("HTTP/1.1 200", meshOpenSsl.Output, StringComparison.Ordinal);
        Assert.Contains("Verify return code: 0 (ok)", meshOpenSsl.Output, StringComparison.Ordinal);
        Assert.Contains("\"id\":\"spiffe://mesh.local/svc/orders\"", meshOpenSsl.Output, StringComparison.Ordinal);

        await Eventually.WaitAsync(() => Count(handshakes, "accepted", "client_certificate") == 2 && Count(handshakes, "refused", "untrusted") == 3, "the handshakes to be counted");
    }

    [Fact]
    public async Task Permissive_serves_plaintext_and_mesh_mutual_TLS_on_the_same_port()
    {
        await using var server = await MeshedServers.StartAsync(_pki, "Permissive");
        var mesh = _pki.WriteCaller("orders", "orders");

        var plaintext = await CurlAsync(server, "http", null);
        var meshCurl = await CurlAsync(server, "https", mesh);
        var anonymousTls = await CurlAsync(server, "https", null);
        var meshOpenSsl = await OpenSslAsync(server, mesh);

        Assert.Equal(0, plaintext.ExitCode);
        Assert.False(Who(plaintext.Output).Https);
        Assert.Null(Who(plaintext.Output).Id);
        Assert.Equal(0, meshCurl.ExitCode);
        Assert.Equal("spiffe://mesh.local/svc/orders", Who(meshCurl.Output).Id);
        Assert.Equal(0, anonymousTls.ExitCode);
        Assert.True(Who(anonymousTls.Output).Https);
        Assert.Null(Who(anonymousTls.Output).Id);
        Assert.Contains("\"id\":\"spiffe://mesh.local/svc/orders\"", meshOpenSsl.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Off_serves_plaintext_only()
    {
        await using var server = await MeshedServers.StartAsync(_pki, "Off");
        var mesh = _pki.WriteCaller("orders", "orders");

        var plaintext = await CurlAsync(server, "http", null);
        var meshCurl = await CurlAsync(server, "https", mesh);

        Assert.Equal(0, plaintext.ExitCode);
        Assert.Null(Who(plaintext.Output).Id);
        Assert.NotEqual(0, meshCurl.ExitCode);
    }

    private static MetricCollector<long> Handshakes(TestApp server) =>
        new(server.App.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.server.tls.handshakes");

    private static long Count(MetricCollector<long> handshakes, string result, string reason) =>
        handshakes.GetMeasurementSnapshot().Where(m => m.Tags["mesh.tls.result"] as string == result && m.Tags["mesh.tls.reason"] as string == reason).Sum(m => m.Value);

    private static Who Who(string json) => JsonSerializer.Deserialize<Who>(json, JsonSerializerOptions.Web)!;

    private async Task<ChildProcess.Result> CurlAsync(TestApp server, string scheme, (string Certificate, string Key)? caller)
    {
        var port = server.Address.Port.ToString(CultureInfo.InvariantCulture);
        List<string> arguments = ["--silent", "--show-error", "--max-time", "10"];
        if (scheme == "https")
        {
            // The server's certificate names localhost besides its SPIFFE ID; curl checks that name and the mesh's root.
            arguments.AddRange(["--resolve", $"localhost:{port}:127.0.0.1", "--cacert", _pki.BundlePath]);
            if (caller is { } c)
            {
                arguments.AddRange(["--cert", c.Certificate, "--key", c.Key]);
            }
        }

        arguments.Add(scheme == "https" ? $"https://localhost:{port}/who" : $"http://127.0.0.1:{port}/who");
        var result = await ChildProcess.RunAsync("curl", arguments, s_limit);
        output.WriteLine($"curl {string.Join(' ', arguments)} -> {result.ExitCode}: {result.Output}{result.Error}");
        return result;
    }

    private async Task<ChildProcess.Result> OpenSslAsync(TestApp server, (string Certificate, string Key) caller, string? version = null)
    {
        List<string> arguments =
        [
            "s_client", "-connect", $"127.0.0.1:{server.Address.Port.ToString(CultureInfo.InvariantCulture)}", "-servername", "localhost",
            "-CAfile", _pki.BundlePath, "-verify_return_error", "-cert", caller.Certificate, "-key", caller.Key, "-ign_eof",
        ];
        if (version is not null)
        {
            arguments.Add(version);
        }

        var result = await ChildProcess.RunWithInputAsync("openssl", arguments, "GET /who HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", s_limit);
        output.WriteLine($"openssl {string.Join(' ', arguments)} -> {result.ExitCode}: {result.Output}{result.Error}");
        return result;
    }
}
