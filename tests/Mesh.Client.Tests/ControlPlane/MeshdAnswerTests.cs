using System.Diagnostics;
using Mesh.ControlPlane;
using Mesh.Utilities;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.ControlPlane;

/// <summary>
/// How the client takes meshd's own answers about itself: the wait a meshd at a limit asks for (429/503 with
/// Retry-After), and the certificate of an https meshd, trusted from the file the client names rather than the system.
/// </summary>
public sealed class MeshdAnswerTests : IAsyncLifetime, IDisposable
{
    private TestBackend[] _backends = [];
    private StubControlPlane _stub = null!;
    private TempDirectory _cache = null!;

    public async Task InitializeAsync()
    {
        _backends = await TestBackend.StartManyAsync(2);
        _stub = await StubControlPlane.StartAsync();
        _cache = new TempDirectory("mesh-cp-");
    }

    public async Task DisposeAsync()
    {
        await _stub.DisposeAsync();
        await _backends.DisposeAllAsync();
    }

    public void Dispose() => _cache.Dispose();

    [Fact]
    public async Task A_meshd_at_its_limit_is_asked_again_no_sooner_than_its_Retry_After()
    {
        _stub.Publish(SnapshotTests.Service("inventory", """{ "LoadBalancer": "RoundRobin" }""", _backends[0]));
        using var host = MeshTestHost.Create(SnapshotTests.Settings(_stub.Address, _cache.Path));
        Assert.Equal("b0", await SnapshotTests.BackendOfAsync(host.Client));

        // The parked watch gets the next snapshot; the watch after it meets a meshd at its watcher limit.
        _stub.FailNext(1, 503, TimeSpan.FromSeconds(2));
        _stub.Publish(SnapshotTests.Service("inventory", """{ "LoadBalancer": "RoundRobin" }""", _backends[1]));
        await Eventually.WaitAsync(() => _stub.Answers.SkipWhile(a => a.Status != 503).Count() >= 2, "a request after the refused one", TimeSpan.FromSeconds(20));

        var answers = _stub.Answers.ToList();
        var refused = answers.FindIndex(a => a.Status == 503);
        var waited = Stopwatch.GetElapsedTime(answers[refused].Timestamp, answers[refused + 1].Timestamp);
        Assert.True(waited >= TimeSpan.FromSeconds(1.9), $"asked again after {waited.TotalMilliseconds:0} ms, though meshd asked for 2 s");
        Assert.Contains(host.Logs.Entries, e => e.Category == ControlPlaneWatcher.LogCategory && e.Message.Contains("status 503, asked to wait 2 s", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(1, null, 0, 100)]
    [InlineData(1, 3, 3000, 3000)]
    [InlineData(8, 3, 3000, 5000)]
    [InlineData(1, 600, 60_000, 60_000)]
    public void The_wait_after_a_failure_is_the_jittered_back_off_or_what_meshd_asked_if_longer_and_never_over_a_minute(int failures, int? retryAfterSeconds, double min, double max)
    {
        using var meshd = new MeshdClient(new ControlPlaneOptions { Address = "http://127.0.0.1:1" }, MeshRandom.Seeded(3), TimeProvider.System);
        var asked = retryAfterSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;

        var waits = Enumerable.Range(0, 100).Select(_ => meshd.Backoff(failures, asked).TotalMilliseconds).ToList();

        Assert.All(waits, w => Assert.InRange(w, min, max));
    }

    [Fact]
    public async Task An_https_meshd_is_trusted_through_the_certificates_file_the_client_names_and_not_without_it()
    {
        using var authority = new TestAuthority();
        var (certificate, certificateFile, keyFile) = authority.Issue("meshd");
        using var data = new TempDirectory("meshd-");
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(
            data.Path,
            ("Meshd:Urls", "https://127.0.0.1:0"), ("Meshd:Tls:CertificateFile", certificateFile), ("Meshd:Tls:KeyFile", keyFile)));
        using var admin = TestMeshd.ClientFrom(meshd.Address, TestMeshd.AdminToken, System.Net.IPAddress.Loopback, certificate);
        (await admin.PutAsync(new Uri("/v1/services/inventory/instances/b0", UriKind.Relative), TestMeshd.Json($$"""{ "address": "{{_backends[0].Address}}" }"""))).EnsureSuccessStatusCode();

        var settings = new Dictionary<string, string?>
        {
            ["Mesh:ControlPlane:Address"] = meshd.Address.ToString(),
            ["Mesh:ControlPlane:Token"] = TestMeshd.WorkloadToken,
            ["Mesh:ControlPlane:CacheDirectory"] = _cache.Path,
            ["Mesh:ControlPlane:TrustedCertificatesPath"] = authority.CertificateFile,
        };
        using (var trusting = MeshTestHost.Create(settings))
        {
            Assert.Equal("b0", await SnapshotTests.BackendOfAsync(trusting.Client));
        }

        File.Delete(Path.Combine(_cache.Path, ControlPlaneWatcher.CacheFileName));
        settings.Remove("Mesh:ControlPlane:TrustedCertificatesPath");
        settings["Mesh:ControlPlane:StartupWait"] = "00:00:00";
        using var untrusting = MeshTestHost.Create(settings);
        await untrusting.StartAsync();
        await Eventually.WaitAsync(
            () => untrusting.Logs.Entries.Any(e => e.Category == ControlPlaneWatcher.LogCategory && e.Level == LogLevel.Warning && e.Message.Contains("unreachable", StringComparison.Ordinal)),
            "the untrusted meshd to be reported unreachable");
        Assert.False(untrusting.Catalog.TryGetService("inventory", out _));
        Assert.Contains(untrusting.Logs.Entries, e => e.Message.Contains("SSL", StringComparison.OrdinalIgnoreCase));
    }
}
