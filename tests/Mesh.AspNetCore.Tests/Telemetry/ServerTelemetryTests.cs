using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Mesh.AspNetCore.Tests.Telemetry;

/// <summary>Inbound metrics by caller, the /mesh/stats endpoint, and W3C trace context at the server.</summary>
public sealed class ServerTelemetryTests : IAsyncLifetime
{
    private TestBackend _backend = null!;

    public async Task InitializeAsync() => _backend = await TestBackend.StartAsync("inventory");

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Fact]
    public async Task Inbound_requests_are_measured_by_caller_route_and_status()
    {
        await using var server = await TestApp.StartAsync(
            services => services.AddMeshServer(),
            app => app.MapGet("/items/{id:int}", (int id) => id == 0 ? Results.NotFound() : Results.Ok(id)));
        using var metrics = new MetricCollector<double>(server.App.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.server.request.duration");
        var services = new ServiceCollection();
        services.AddMesh(o =>
        {
            o.ServiceName = "checkout";
            o.Services["catalog"] = new MeshServiceOptions { Endpoints = { new(server.Address.ToString()) } };
        });
        services.AddHttpClient("catalog").AddMesh();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        using var anonymous = new HttpClient();

        for (var i = 0; i < 10; i++)
        {
            using var response = await client.GetAsync($"http://catalog/items/{i}");
        }

        using (await anonymous.GetAsync(new Uri(server.Address, "/items/3")))
        {
        }

        await Eventually.WaitAsync(() => metrics.GetMeasurementSnapshot().Count == 11, "every request to be recorded");
        var measured = metrics.GetMeasurementSnapshot();
        Assert.Equal(9, measured.Count(m => m.Tags["mesh.caller"] is "checkout" && m.Tags["http.response.status_code"] is 200 && m.Tags["http.route"] is "/items/{id:int}"));
        Assert.Equal(1, measured.Count(m => m.Tags["mesh.caller"] is "checkout" && m.Tags["http.response.status_code"] is 404));
        Assert.Equal(1, measured.Count(m => m.Tags["mesh.caller"] is "unknown"));
    }

    [Fact]
    public async Task A_request_the_application_fails_with_an_exception_is_measured_as_the_500_it_is_answered_with()
    {
        await using var server = await TestApp.StartAsync(
            services => services.AddMeshServer(),
            app => app.MapGet("/fails", (Func<IResult>)(() => throw new InvalidOperationException("the handler fails"))));
        using var metrics = new MetricCollector<double>(server.App.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.server.request.duration");
        using var client = new HttpClient();

        using var response = await client.GetAsync(new Uri(server.Address, "/fails"));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        await Eventually.WaitAsync(() => metrics.GetMeasurementSnapshot().Count == 1, "the request to be recorded");
        Assert.Equal(500, metrics.GetMeasurementSnapshot().Single().Tags["http.response.status_code"]);
    }

    [Fact]
    public async Task Mesh_stats_reports_the_success_rate_of_the_calls_made()
    {
        await using var app = await TestApp.StartAsync(
            services =>
            {
                services.AddMeshServer();
                services.AddMesh(o => o.Services["inventory"] = new MeshServiceOptions { Endpoints = { new(_backend.Address.ToString()) } });
                services.AddHttpClient("inventory").AddMesh();
            },
            app =>
            {
                app.MapMeshEndpoints();
                app.MapGet("/work/{n:int}", async (int n, IHttpClientFactory clients) =>
                {
                    using var response = await clients.CreateClient("inventory").GetAsync("http://inventory/items");
                    return (int)response.StatusCode;
                });
            });
        using var caller = new HttpClient();

        // Nine calls succeed; the tenth meets a backend failing for good (a 404 is an answer, a 500 is a failure).
        _backend.Script(Enumerable.Range(0, 9).Select(i => new TestBackend.Reply(i % 2 == 0 ? HttpStatusCode.OK : HttpStatusCode.NotFound)).ToArray());
        for (var i = 0; i < 9; i++)
        {
            await caller.GetStringAsync(new Uri(app.Address, $"/work/{i}"));
        }

        _backend.Status = HttpStatusCode.BadRequest;
        _backend.Script(Enumerable.Repeat(new TestBackend.Reply(HttpStatusCode.InternalServerError), 3).ToArray());
        await caller.GetStringAsync(new Uri(app.Address, "/work/9"));

        using var stats = JsonDocument.Parse(await caller.GetStringAsync(new Uri(app.Address, "/mesh/stats")));
        var inventory = Assert.Single(stats.RootElement.GetProperty("outbound").EnumerateArray());
        Assert.Equal("inventory", inventory.GetProperty("service").GetString());
        Assert.Equal(10, inventory.GetProperty("requests").GetInt64());
        Assert.Equal(0.9, inventory.GetProperty("successRate").GetDouble(), precision: 6);
        Assert.True(inventory.GetProperty("p99Ms").GetDouble() >= inventory.GetProperty("p50Ms").GetDouble());
        var endpoint = Assert.Single(inventory.GetProperty("endpoints").EnumerateArray());
        Assert.Equal(_backend.Address.GetLeftPart(UriPartial.Authority), endpoint.GetProperty("address").GetString());
        Assert.False(endpoint.GetProperty("ejected").GetBoolean());
        Assert.Equal("closed", inventory.GetProperty("breaker").GetString());
        Assert.Equal(0, inventory.GetProperty("retries").GetInt64());
        Assert.Equal(0, inventory.GetProperty("budgetExhausted").GetInt64());

        // The inbound side: the ten /work requests came from a plain client, which names no caller.
        var served = Assert.Single(stats.RootElement.GetProperty("inbound").EnumerateArray());
        Assert.Equal("unknown", served.GetProperty("caller").GetString());
        Assert.Equal(10, served.GetProperty("requests").GetInt64());
        Assert.Equal(1.0, served.GetProperty("successRate").GetDouble());
    }

    [Fact]
    public async Task Mesh_stats_reports_the_requests_served_per_caller_with_failures_and_latency()
    {
        await using var server = await TestApp.StartAsync(
            services => services.AddMeshServer(),
            app =>
            {
                app.MapMeshEndpoints();
                app.MapGet("/items/{id:int}", async (int id) =>
                {
                    if (id % 4 == 3)
                    {
                        throw new InvalidOperationException("the fourth item fails");
                    }

                    if (id % 4 == 2)
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(30));
                        return Results.StatusCode(503);
                    }

                    return Results.Ok(id);
                });
            });
        var services = new ServiceCollection();
        services.AddMesh(o =>
        {
            o.ServiceName = "checkout";
            o.Services["catalog"] = new MeshServiceOptions { Endpoints = { new(server.Address.ToString()) }, Retry = { MaxAttempts = 1 } };
        });
        services.AddHttpClient("catalog").AddMesh();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
        using var anonymous = new HttpClient();
        for (var i = 0; i < 8; i++)
        {
            using var response = await client.GetAsync($"http://catalog/items/{i}");
        }

        using var claimed = new HttpRequestMessage(HttpMethod.Get, new Uri(server.Address, "/items/1"));
        claimed.Headers.Add("mesh-caller", "billing");
        using (await anonymous.SendAsync(claimed))
        {
        }

        // Recorded as each request ends, before the next is sent: no wait needed beyond the answers.
        using var stats = JsonDocument.Parse(await anonymous.GetStringAsync(new Uri(server.Address, "/mesh/stats")));
        var inbound = stats.RootElement.GetProperty("inbound").EnumerateArray().ToDictionary(e => e.GetProperty("caller").GetString()!);
        Assert.Equal(["billing", "checkout"], inbound.Keys.Order(StringComparer.Ordinal));
        var checkout = inbound["checkout"];
        Assert.Equal(8, checkout.GetProperty("requests").GetInt64());

        // Two thrown, two 503s: half failed. The 30 ms answers are a quarter, so p95 and p99 hold them.
        Assert.Equal(0.5, checkout.GetProperty("successRate").GetDouble(), precision: 6);
        Assert.True(checkout.GetProperty("p95Ms").GetDouble() >= 30, checkout.ToString());
        Assert.True(checkout.GetProperty("p99Ms").GetDouble() >= checkout.GetProperty("p95Ms").GetDouble(), checkout.ToString());
        Assert.True(checkout.GetProperty("requestsPerSecond").GetDouble() > 0);
        Assert.Equal(1, inbound["billing"].GetProperty("requests").GetInt64());
        Assert.Equal(1.0, inbound["billing"].GetProperty("successRate").GetDouble());
    }

    [Theory]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", true)]
    [InlineData("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", true)]
    [InlineData("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future-adds", true)]
    [InlineData("00-00000000000000000000000000000000-b7ad6b7169203331-01", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b71-01", false)]
    [InlineData("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", false)]
    [InlineData("not a traceparent", false)]
    public async Task An_incoming_traceparent_is_continued_or_replaced_as_W3C_Trace_Context_says(string traceparent, bool continued)
    {
        var spans = new ConcurrentQueue<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource("Microsoft.AspNetCore").AddProcessor(new Ended(spans)).Build();
        await using var server = await TestApp.StartAsync(services => services.AddMeshServer(), app => app.MapGet("/", () => "ok"));
        using var caller = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, server.Address);
        request.Headers.TryAddWithoutValidation("traceparent", traceparent);

        using var response = await caller.SendAsync(request);

        // ASP.NET Core ends the server span after the response is sent: wait for it, never read the spans before.
        await Eventually.WaitAsync(() => spans.Any(s => s.Kind == ActivityKind.Server), "the server span to end");
        var span = Assert.Single(spans, s => s.Kind == ActivityKind.Server);
        var sameTrace = span.TraceId.ToHexString() == "0af7651916cd43dd8448eb211c80319c";
        Assert.Equal(continued, sameTrace);
        Assert.Equal(continued, span.ParentSpanId.ToHexString() == "b7ad6b7169203331");
        Assert.NotEqual("00000000000000000000000000000000", span.TraceId.ToHexString());
    }

    /// <summary>Collects every span as it ends, safe to read while the server ends more.</summary>
    private sealed class Ended(ConcurrentQueue<Activity> spans) : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data) => spans.Enqueue(data);
    }
}
