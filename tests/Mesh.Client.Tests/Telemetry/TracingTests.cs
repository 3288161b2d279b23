using System.Diagnostics;
using System.Net;
using Mesh.Balancing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Mesh.Client.Tests.Telemetry;

/// <summary>Spans of meshed calls, collected by the OpenTelemetry SDK with its in-memory exporter.</summary>
public sealed class TracingTests : IAsyncLifetime, IDisposable
{
    private readonly SpanCollector _spans = new();
    private TestBackend[] _backends = [];
    private TracerProvider _tracing = null!;

    public async Task InitializeAsync()
    {
        _backends = await TestBackend.StartManyAsync(2);
        _tracing = Sdk.CreateTracerProviderBuilder()
            .AddMeshInstrumentation()
            .AddSource("Microsoft.AspNetCore")
            .AddSource("System.Net.Http")
            .AddProcessor(_spans)
            .Build();
    }

    public void Dispose() => _spans.Dispose();

    public async Task DisposeAsync()
    {
        _tracing.Dispose();
        await _backends.DisposeAllAsync();
    }

    [Fact]
    public async Task A_retried_call_shows_two_attempt_spans_with_their_endpoints_under_one_call_span()
    {
        _backends[0].Script(new TestBackend.Reply(HttpStatusCode.ServiceUnavailable));
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends));
        var client = host.Client;
        var counter = host.Catalog.TryGetService("inventory", out var service) ? service : null;
        Assert.NotNull(counter);
        using var trace = _spans.StartTrace();

        // Round robin may start on either backend; send until the scripted 503 has been met and retried.
        for (var i = 0; i < 2 && _backends[0].Requests == 0; i++)
        {
            using var response = await client.GetAsync("http://inventory/items/1");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        _tracing.ForceFlush();
        var spans = _spans.Snapshot();
        var call = spans.Single(s => s.Kind == ActivityKind.Internal && s.GetTagItem("mesh.attempts") is 2);
        Assert.Equal("GET inventory", call.DisplayName);
        Assert.Equal("inventory", call.GetTagItem("mesh.service"));
        Assert.Equal(200, call.GetTagItem("http.response.status_code"));
        Assert.Equal("success", call.GetTagItem("mesh.outcome"));

        var attempts = spans.Where(s => s.ParentSpanId == call.SpanId).OrderBy(s => s.GetTagItem("mesh.attempt")).ToList();
        Assert.Equal(2, attempts.Count);
        Assert.All(attempts, a => Assert.Equal(ActivityKind.Client, a.Kind));
        Assert.All(attempts, a => Assert.Equal(call.TraceId, a.TraceId));
        Assert.Equal(503, attempts[0].GetTagItem("http.response.status_code"));
        Assert.Equal(_backends[0].Address.Port, attempts[0].GetTagItem("server.port"));
        Assert.Equal(200, attempts[1].GetTagItem("http.response.status_code"));
        Assert.Equal(_backends[1].Address.Port, attempts[1].GetTagItem("server.port"));
        Assert.Equal("retry after status 503", attempts[1].GetTagItem("mesh.attempt.reason"));
    }

    [Fact]
    public async Task Every_attempt_carries_the_trace_context_to_the_server()
    {
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends));
        using var parent = new Activity("test").Start();
        parent.AddBaggage("tenant", "blue");

        using var response = await host.Client.GetAsync("http://inventory/items");
        var echo = await TestBackend.ReadEchoAsync(response);

        Assert.StartsWith($"00-{parent.TraceId}-", echo.Headers["traceparent"], StringComparison.Ordinal);
        Assert.Matches(@"tenant\s*=\s*blue", echo.Headers["baggage"]);
    }

    [Fact]
    public async Task One_trace_runs_from_a_caller_through_a_meshed_service_to_the_next()
    {
        // B is a real ASP.NET Core service that calls C (a backend) through the mesh; A calls B through the mesh.
        await using var b = await TestApp.StartAsync(
            services =>
            {
                services.AddMesh(o => o.Services["c"] = new MeshServiceOptions { Endpoints = { new(_backends[1].Address.ToString()) } });
                services.AddHttpClient("c").AddMesh();
            },
            app => app.MapGet("/b", async (IHttpClientFactory clients) =>
            {
                using var response = await clients.CreateClient("c").GetAsync("http://c/items");
                return (await TestBackend.ReadEchoAsync(response)).Headers["traceparent"];
            }));
        var services = new ServiceCollection();
        services.AddMesh(o => o.Services["b"] = new MeshServiceOptions { Endpoints = { new(b.Address.ToString()) } });
        services.AddHttpClient("b").AddMesh();
        await using var provider = services.BuildServiceProvider();

        using var trace = _spans.StartTrace();
        var seenByC = await provider.GetRequiredService<IHttpClientFactory>().CreateClient("b").GetStringAsync("http://b/b");

        _tracing.ForceFlush();
        var spans = _spans.Snapshot();
        // A: call to b → attempt → (HttpClient's span) → B: server span → call to c → attempt → (HttpClient's span) → C.
        var callToB = spans.Single(s => s.DisplayName == "GET b");
        var attemptToB = spans.Single(s => s.Source.Name == "Mesh" && s.ParentSpanId == callToB.SpanId);
        var serverB = spans.Where(s => s.Kind == ActivityKind.Server && IsBelow(spans, s, attemptToB)).MinBy(s => s.StartTimeUtc)!;
        var callToC = spans.Single(s => s.DisplayName == "GET c");
        var attemptToC = spans.Single(s => s.Source.Name == "Mesh" && s.ParentSpanId == callToC.SpanId);
        var serverC = spans.Single(s => s.Kind == ActivityKind.Server && IsBelow(spans, s, attemptToC));
        Assert.Equal(serverB.SpanId, callToC.ParentSpanId);
        Assert.Equal([ActivityKind.Client, ActivityKind.Client], new[] { attemptToB.Kind, attemptToC.Kind });
        // Only the test's own trace is collected, so every hop found above continued it.
        Assert.Equal(trace.SpanId, callToB.ParentSpanId);
        Assert.StartsWith($"00-{callToB.TraceId}-", seenByC, StringComparison.Ordinal);
        Assert.NotSame(serverB, serverC);
    }

    private static bool IsBelow(List<Activity> spans, Activity span, Activity ancestor)
    {
        for (var current = span; current is not null; current = spans.FirstOrDefault(s => s.SpanId == current.ParentSpanId))
        {
            if (current.ParentSpanId == ancestor.SpanId)
            {
                return true;
            }
        }

        return false;
    }
}
