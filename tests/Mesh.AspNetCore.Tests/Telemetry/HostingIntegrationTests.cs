using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>The README's set-up: OpenTelemetry's host integration with AddMeshInstrumentation(), in a real service.</summary>
public sealed class HostingIntegrationTests
{
    [Fact]
    public async Task AddMeshInstrumentation_collects_the_mesh_spans_and_metrics_through_the_host()
    {
        await using var backend = await TestBackend.StartAsync("inventory");
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        await using var app = await TestApp.StartAsync(
            services =>
            {
                services.AddOpenTelemetry()
                    .WithTracing(t => t.AddMeshInstrumentation().AddInMemoryExporter(spans))
                    .WithMetrics(m => m.AddMeshInstrumentation().AddInMemoryExporter(metrics));
                services.AddMeshServer();
                services.AddMesh(o => o.Services["inventory"] = new MeshServiceOptions { Endpoints = { new(backend.Address.ToString()) } });
                services.AddHttpClient("inventory").AddMesh();
            },
            app => app.MapGet("/", async (IHttpClientFactory clients) => await clients.CreateClient("inventory").GetStringAsync("http://inventory/items")));
        using var caller = new HttpClient();

        for (var i = 0; i < 3; i++)
        {
            await caller.GetStringAsync(app.Address);
        }

        app.App.Services.GetRequiredService<TracerProvider>().ForceFlush();
        app.App.Services.GetRequiredService<MeterProvider>().ForceFlush();
        Assert.Equal(3, spans.Count(s => s.DisplayName == "GET inventory"));
        Assert.Equal(3, spans.Count(s => s.Source.Name == "Mesh" && s.Kind == ActivityKind.Client));
        var calls = Assert.Single(metrics, m => m.Name == "mesh.client.request.duration");
        long count = 0;
        foreach (ref readonly var point in calls.GetMetricPoints())
        {
            count += point.GetHistogramCount();
        }

        Assert.Equal(3, count);
        Assert.Contains(metrics, m => m.Name == "mesh.server.request.duration");
    }
}
