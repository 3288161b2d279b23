using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Meshd.Tests.Infrastructure;

namespace Meshd.Tests.Security;

/// <summary>Issue #15, item 4: meshd's API over TLS from certificate files, and no plain HTTP beyond loopback by default.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task Meshd_serves_its_api_over_https_from_certificate_files()
    {
        using var authority = new TestAuthority();
        var (certificate, certificateFile, keyFile) = authority.Issue("meshd");
        using var directory = new TempDirectory();
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(
            directory.Path,
            ("Meshd:Urls", "https://127.0.0.1:0"), ("Meshd:Tls:CertificateFile", certificateFile), ("Meshd:Tls:KeyFile", keyFile)));
        Assert.Equal("https", meshd.Address.Scheme);
        using var workload = TestMeshd.ClientFrom(meshd.Address, TestMeshd.WorkloadToken, IPAddress.Loopback, certificate);
        using var admin = TestMeshd.ClientFrom(meshd.Address, TestMeshd.AdminToken, IPAddress.Loopback, certificate);

        Assert.Equal(HttpStatusCode.OK, (await workload.PutAsync("/v1/services/inventory/instances/inv-1", TestMeshd.Json("""{ "address": "https://127.0.0.1:5001" }"""))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsync("/v1/policies/inventory", TestMeshd.Json("""{ "LoadBalancer": "RoundRobin" }"""))).StatusCode);
        var snapshot = (await workload.GetFromJsonAsync<JsonObject>("/v1/snapshot"))!;
        Assert.Equal("RoundRobin", (string?)snapshot["services"]!["inventory"]!["policy"]!["LoadBalancer"]);
        Assert.Equal(HttpStatusCode.OK, (await workload.GetAsync("/healthz")).StatusCode);

        // Plain HTTP to the TLS port gets no API.
        using var plain = TestMeshd.Client(new Uri($"http://127.0.0.1:{meshd.Address.Port}"), TestMeshd.WorkloadToken);
        var cleartext = await Record.ExceptionAsync(async () => (await plain.GetAsync("/v1/snapshot")).EnsureSuccessStatusCode());
        Assert.NotNull(cleartext);
    }

    [Fact]
    public async Task The_command_line_meshd_starts_with_an_https_url()
    {
        using var authority = new TestAuthority();
        var (certificate, certificateFile, keyFile) = authority.Issue("meshd");
        using var directory = new TempDirectory();
        using var meshd = await MeshdProcess.StartAsync(TestMeshd.Settings(
            directory.Path,
            ("Meshd:Urls", "https://127.0.0.1:0"), ("Meshd:Tls:CertificateFile", certificateFile), ("Meshd:Tls:KeyFile", keyFile)));
        using var workload = TestMeshd.ClientFrom(meshd.Address, TestMeshd.WorkloadToken, IPAddress.Loopback, certificate);

        Assert.Equal(HttpStatusCode.OK, (await workload.GetAsync("/v1/snapshot")).StatusCode);
    }

    [Theory]
    [InlineData("https://127.0.0.1:0", null, "Meshd:Urls: 'https://127.0.0.1:0' is https: set Meshd:Tls:CertificateFile")]
    [InlineData("http://0.0.0.0:0", null, "Meshd:Urls: 'http://0.0.0.0:0' would carry bearer tokens in clear")]
    [InlineData("http://127.0.0.1:0", "/nonexistent/cert.pem", "Meshd:Tls:CertificateFile: the file '/nonexistent/cert.pem' does not exist")]
    public async Task Tls_settings_that_cannot_work_stop_the_start_naming_the_key(string urls, string? certificateFile, string message)
    {
        using var directory = new TempDirectory();
        var settings = TestMeshd.Settings(directory.Path, ("Meshd:Urls", urls));
        if (certificateFile is not null)
        {
            settings["Meshd:Tls:CertificateFile"] = certificateFile;
            settings["Meshd:Tls:KeyFile"] = certificateFile;
        }

        var failure = await Assert.ThrowsAsync<MeshdStartupException>(() => TestMeshd.StartAsync(settings));
        Assert.StartsWith(message, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_http_beyond_loopback_is_allowed_only_when_asked_for()
    {
        using var directory = new TempDirectory();
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path, ("Meshd:Urls", "http://0.0.0.0:0"), ("Meshd:AllowInsecureHttp", "true")));
        using var workload = TestMeshd.Client(new Uri($"http://127.0.0.1:{meshd.Address.Port}"), TestMeshd.WorkloadToken);
        Assert.Equal(HttpStatusCode.OK, (await workload.GetAsync("/v1/snapshot")).StatusCode);
    }
}
