using System.Diagnostics;
using System.Globalization;
using Mesh.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Demo.Scenes;

/// <summary>
/// What the mesh sees of its own traffic: golden metrics per destination service from <see cref="MeshStats"/> (the
/// in-process <c>linkerd viz stat</c>), and the spans of one retried call, as an OpenTelemetry exporter would get them.
/// </summary>
internal sealed class ObservabilityScene : IScene
{
    public string Title => "Observability: golden metrics per service, and the spans of a retried call";

    public async Task RunAsync(DemoOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var inventory = await DemoBackend.StartAsync("inventory", TimeSpan.Zero);
        var payments = await DemoBackend.StartAsync("payments", TimeSpan.FromMilliseconds(5));
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == MeshTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span =>
            {
                lock (spans)
                {
                    spans.Add(span);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        try
        {
            var services = new ServiceCollection();
            services.AddMesh(o =>
            {
                o.ServiceName = "demo";
                o.Services["inventory"] = new MeshServiceOptions { Endpoints = { new(inventory.Address.ToString()) } };
                o.Services["payments"] = new MeshServiceOptions { Endpoints = { new(payments.Address.ToString()) } };
                o.Services["payments"].Retry.Enabled = false;
                o.Services["payments"].CircuitBreaker.Enabled = false;
            });
            services.AddHttpClient("meshed").AddMesh();
            await using var provider = services.BuildServiceProvider();
            var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("meshed");

            payments.FailureRatio = 0.1;
            var calls = options.Requests(500);
            for (var i = 0; i < calls; i++)
            {
                using var a = await client.GetAsync("http://inventory/items", cancellationToken);
                using var b = await client.GetAsync("http://payments/charges", cancellationToken);
            }

            output.WriteLine($"  {"service",-12} {"requests",9} {"rps",8} {"success",8} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8}");
            foreach (var s in provider.GetRequiredService<MeshStats>().GetSnapshot())
            {
                output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"  {s.Service,-12} {s.Requests,9} {s.RequestsPerSecond,8:F1} {s.SuccessRate,8:P1} {s.P50.TotalMilliseconds,8:F2} {s.P95.TotalMilliseconds,8:F2} {s.P99.TotalMilliseconds,8:F2}"));
            }

            // One call that meets a 503 and is retried: one call span, two attempt spans beneath it.
            lock (spans)
            {
                spans.Clear();
            }

            inventory.FailNext(1);
            using (await client.GetAsync("http://inventory/items/42", cancellationToken))
            {
            }

            output.WriteLine();
            Activity[] recorded;
            lock (spans)
            {
                recorded = [.. spans];
            }

            foreach (var call in recorded.Where(s => s.Kind == ActivityKind.Internal))
            {
                output.WriteLine($"  {call.DisplayName}: {call.GetTagItem("mesh.outcome")}, {call.GetTagItem("mesh.attempts")} attempts, {call.Duration.TotalMilliseconds:F1} ms (trace {call.TraceId})");
                foreach (var attempt in recorded.Where(s => s.ParentSpanId == call.SpanId).OrderBy(s => s.StartTimeUtc))
                {
                    var reason = attempt.GetTagItem("mesh.attempt.reason") is string r ? $", {r}" : string.Empty;
                    output.WriteLine($"    attempt {attempt.GetTagItem("mesh.attempt")} -> {attempt.GetTagItem("server.address")}:{attempt.GetTagItem("server.port")}: {attempt.GetTagItem("http.response.status_code")}{reason}");
                }
            }

            output.WriteLine();
            output.WriteLine("  With OpenTelemetry: .WithTracing(t => t.AddMeshInstrumentation()) and .WithMetrics(m => m.AddMeshInstrumentation()).");
        }
        finally
        {
            await inventory.DisposeAsync();
            await payments.DisposeAsync();
        }
    }
}
