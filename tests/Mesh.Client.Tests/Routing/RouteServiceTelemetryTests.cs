using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Mesh.Client.Tests.Telemetry;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// What a call sent to another service and a mirrored copy look like from outside: the call's span and metrics keep
/// the service asked for and name the service called; the copy is counted by route and outcome, and its attempt span
/// is not part of the call's trace.
/// </summary>
public sealed class RouteServiceTelemetryTests : IAsyncLifetime, IDisposable
{
    private readonly SpanCollector _spans = new(_ => true);
    private TestBackend _inventory = null!;
    private TestBackend _next = null!;
    private TracerProvider _tracing = null!;

    public async Task InitializeAsync()
    {
        _inventory = await TestBackend.StartAsync("inventory");
        _next = await TestBackend.StartAsync("inventory-next");
        _tracing = Sdk.CreateTracerProviderBuilder().AddMeshInstrumentation().AddProcessor(_spans).Build();
    }

    public void Dispose() => _spans.Dispose();

    public async Task DisposeAsync()
    {
        _tracing.Dispose();
        await _inventory.DisposeAsync();
        await _next.DisposeAsync();
    }

    [Fact]
    public async Task A_call_sent_to_another_service_keeps_the_service_asked_for_and_names_the_one_called()
    {
        using var host = MeshTestHost.Create(new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0:Address"] = _inventory.Address.ToString(),
            ["Mesh:Services:inventory-next:Endpoints:0:Address"] = _next.Address.ToString(),
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Service"] = "inventory-next",
        });
        using var durations = new MetricCollector<double>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.request.duration");

        var path = $"/forwarded-{Guid.NewGuid():N}";
        await Load.GetOkAsync(host.Client, "http://inventory" + path);

        _tracing.ForceFlush();
        var call = Assert.Single(Spans(path), s => s.Kind == ActivityKind.Internal);
        Assert.Equal("inventory", call.GetTagItem("mesh.service"));
        Assert.Equal("inventory-next", call.GetTagItem("mesh.destination.service"));
        var attempt = Assert.Single(_spans.Snapshot(), s => s.ParentSpanId == call.SpanId);
        Assert.Equal("inventory-next", attempt.GetTagItem("mesh.service"));
        Assert.Equal("inventory", Assert.Single(durations.GetMeasurementSnapshot()).Tags["mesh.service"]);
    }

    [Fact]
    public async Task A_copy_is_counted_by_route_and_outcome_and_its_span_is_outside_the_calls_trace()
    {
        using var host = MeshTestHost.Create(new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0:Address"] = _inventory.Address.ToString(),
            ["Mesh:Services:shadow:Endpoints:0:Address"] = _next.Address.ToString(),
            ["Mesh:Services:inventory:Routes:0:Name"] = "items",
            ["Mesh:Services:inventory:Routes:0:Mirror:Service"] = "shadow",

            // The first request a cold test process sends can outlast the mirror's default second; this test is not about the timeout.
            ["Mesh:Services:inventory:Routes:0:Mirror:Timeout"] = "00:00:30",
        });
        using var copies = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.mirror.requests");

        var path = $"/mirrored-{Guid.NewGuid():N}";
        await Load.GetOkAsync(host.Client, "http://inventory" + path);
        await Eventually.WaitAsync(() => copies.GetMeasurementSnapshot().Count == 1, "the copy to be counted");

        var copy = Assert.Single(copies.GetMeasurementSnapshot());
        Assert.Equal(1, copy.Value);
        Assert.Equal("inventory", copy.Tags["mesh.service"]);
        Assert.Equal("items", copy.Tags["mesh.route"]);
        Assert.Equal("sent", copy.Tags["mesh.mirror.outcome"]);

        _tracing.ForceFlush();
        var call = Assert.Single(Spans(path), s => s.Kind == ActivityKind.Internal);
        var mirrored = Assert.Single(Spans(path), s => s.Kind == ActivityKind.Client && "shadow".Equals(s.GetTagItem("mesh.service")));
        Assert.NotEqual(call.TraceId, mirrored.TraceId);
        Assert.Equal(1, _next.Requests);
    }

    /// <summary>The spans of this test's own requests: the tracer hears every meshed call in the process.</summary>
    private List<Activity> Spans(string path) =>
        [.. _spans.Snapshot().Where(s => s.GetTagItem("url.full") is string url && url.Contains(path, StringComparison.Ordinal))];
}
