using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Mesh.AspNetCore.Tests.Health;

/// <summary>
/// The mesh's readiness check: a start with no snapshot or a refused token is unhealthy (a readiness probe sees it),
/// not only a warning in the log; a snapshot the control plane cannot refresh is degraded.
/// </summary>
public sealed class ReadinessTests : IAsyncLifetime
{
    private string _cache = "";

    public Task InitializeAsync()
    {
        _cache = Directory.CreateTempSubdirectory("mesh-ready-").FullName;
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_cache, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task With_meshd_unreachable_and_no_snapshot_the_service_is_not_ready_and_says_why()
    {
        using var closed = LoopbackPorts.Closed();
        await using var app = await StartAsync(closed.Address, TestMeshd.WorkloadToken);

        var mesh = await MeshEntryAsync(app);
        Assert.Equal(HealthStatus.Unhealthy, mesh.Status);
        Assert.Contains("No snapshot from the control plane yet", mesh.Description, StringComparison.Ordinal);
        using var http = new HttpClient { BaseAddress = app.Address };
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync(new Uri("/ready", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task A_token_meshd_refuses_makes_the_service_unhealthy_naming_the_token()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await using var app = await StartAsync(meshd.Address, "not-the-token");

        await Eventually.WaitAsync(async () => (await MeshEntryAsync(app)).Description?.Contains("refused the token", StringComparison.Ordinal) == true, "the refusal reaches the check");
        Assert.Equal(HealthStatus.Unhealthy, (await MeshEntryAsync(app)).Status);
    }

    [Fact]
    public async Task With_a_snapshot_the_service_is_ready_and_with_meshd_gone_it_is_degraded_on_the_snapshot_it_has()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await using var app = await StartAsync(meshd.Address, TestMeshd.WorkloadToken);
        await Eventually.WaitAsync(async () => (await MeshEntryAsync(app)).Status == HealthStatus.Healthy, "ready with meshd's snapshot");
        using var http = new HttpClient { BaseAddress = app.Address };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/ready", UriKind.Relative))).StatusCode);

        await meshd.StopAsync();
        await Eventually.WaitAsync(async () => (await MeshEntryAsync(app)).Status == HealthStatus.Degraded, "degraded once meshd is gone");
        Assert.Contains("cannot refresh it now", (await MeshEntryAsync(app)).Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_control_plane_the_mesh_is_ready()
    {
        await using var app = await TestApp.StartAsync(services => services.AddMeshServer(), Map);
        Assert.Equal(HealthStatus.Healthy, (await MeshEntryAsync(app)).Status);
    }

    private static async Task<HealthReportEntry> MeshEntryAsync(TestApp app) =>
        (await app.App.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(c => c.Tags.Contains("ready"))).Entries["mesh"];

    private static void Map(WebApplication app) =>
        app.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });

    private Task<TestApp> StartAsync(Uri meshd, string token) => TestApp.StartAsync(
        services =>
        {
            services.AddMeshServer();
            services.Configure<MeshOptions>(o =>
            {
                o.ServiceName = "inventory";
                o.ControlPlane.Address = meshd.ToString();
                o.ControlPlane.Token = token;
                o.ControlPlane.CacheDirectory = _cache;
                o.ControlPlane.StartupWait = TimeSpan.FromMilliseconds(200);
            });
        },
        Map);
}
