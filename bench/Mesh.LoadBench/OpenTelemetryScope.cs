using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Mesh.LoadBench;

/// <summary>
/// The OpenTelemetry SDK collecting the mesh's spans and metrics, without an exporter, for as long as it is not
/// disposed: what the <c>mesh+otel</c> row costs beyond <c>mesh</c>. Both providers listen process-wide, so the row
/// starts them before its warm-up and ends them after its phases.
/// </summary>
internal sealed class OpenTelemetryScope : IDisposable
{
    private readonly TracerProvider _tracing = Sdk.CreateTracerProviderBuilder().AddMeshInstrumentation().Build();
    private readonly MeterProvider _metrics = Sdk.CreateMeterProviderBuilder().AddMeshInstrumentation().Build();

    public static IDisposable Start() => new OpenTelemetryScope();

    public void Dispose()
    {
        _tracing.Dispose();
        _metrics.Dispose();
    }
}
