using Mesh.Telemetry;

namespace OpenTelemetry.Metrics;

/// <summary>Adds the mesh's metrics to an OpenTelemetry meter provider.</summary>
public static class MeshMeterProviderBuilderExtensions
{
    /// <summary>
    /// Collects the mesh's metrics: call and attempt durations by service and outcome, calls in flight, retries, hedges,
    /// budget exhaustions, rate-limit rejections, breaker transitions, ejections and endpoints per service.
    /// </summary>
    /// <param name="builder">The meter provider builder.</param>
    /// <returns>The same builder.</returns>
    public static MeterProviderBuilder AddMeshInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(MeshTelemetry.Name);
    }
}
