using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>The caller a certificate proves is the request's identity; a header never is.</summary>
public sealed class CallerIdentityTests : IDisposable
{
    private readonly MeshPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task An_mTLS_callers_certificate_is_the_request_identity_and_a_spoofed_mesh_caller_header_changes_nothing()
    {
        await using var server = await MeshedServers.StartAsync(_pki, "Strict");
        using var metrics = Requests(server);
        using var gateway = new HttpClient(_pki.MtlsHandler(_pki.Svid("gateway")));

        var http1 = await WhoAsync(gateway, server, new Version(1, 1), spoof: "orders");
        var http2 = await WhoAsync(gateway, server, new Version(2, 0), spoof: "orders");

        foreach (var who in new[] { http1, http2 })
        {
            Assert.Equal("spiffe://mesh.local/svc/gateway", who.Id);
            Assert.Equal("gateway", who.Service);
            Assert.Equal("spiffe://mesh.local/svc/gateway", who.User);
            Assert.Equal("mesh-mtls", who.AuthenticationType);
            Assert.Equal("gateway", who.ClaimedService);

            // The application sees the caller the certificate proved in the header too, never the one sent.
            Assert.Equal("gateway", who.Header);
        }

        Assert.Equal("HTTP/1.1", http1.Protocol);
        Assert.Equal("HTTP/2", http2.Protocol);
        await Eventually.WaitAsync(() => metrics.GetMeasurementSnapshot().Count == 2, "both requests to be measured");
        Assert.All(metrics.GetMeasurementSnapshot(), m => Assert.Equal("gateway", m.Tags["mesh.caller"]));
    }

    [Fact]
    public async Task In_plaintext_and_in_TLS_without_a_client_certificate_the_mesh_caller_header_is_never_an_identity()
    {
        await using var server = await MeshedServers.StartAsync(_pki, "Permissive");
        using var metrics = Requests(server);
        using var plaintext = new HttpClient();
        using var anonymousTls = new HttpClient(_pki.MtlsHandler(svid: null));

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.Address, "/who"));
        request.Headers.Add("mesh-caller", "orders");
        using var response = await plaintext.SendAsync(request);
        var overPlaintext = (await response.Content.ReadFromJsonAsync<Who>())!;
        var overTls = await WhoAsync(anonymousTls, server, new Version(1, 1), spoof: "orders");

        foreach (var who in new[] { overPlaintext, overTls })
        {
            Assert.Null(who.Id);
            Assert.Null(who.User);
            Assert.Null(who.ClaimedService);
            // Without a proved identity the claimed one is removed before the application sees it.
            Assert.Equal(string.Empty, who.Header);
        }

        Assert.False(overPlaintext.Https);
        Assert.True(overTls.Https);
        await Eventually.WaitAsync(() => metrics.GetMeasurementSnapshot().Count == 2, "both requests to be measured");
        Assert.All(metrics.GetMeasurementSnapshot(), m => Assert.Equal("unauthenticated", m.Tags["mesh.caller"]));
    }

    private static MetricCollector<double> Requests(TestApp server) =>
        new(server.App.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.server.request.duration");

    private static async Task<Who> WhoAsync(HttpClient client, TestApp server, Version version, string spoof)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.Https(), "/who")) { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.Add("mesh-caller", spoof);
        using var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<Who>())!;
    }
}
