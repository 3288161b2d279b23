using Mesh.Telemetry;

namespace OpenTelemetry.Trace;

/// <summary>Adds the mesh's spans to an OpenTelemetry tracer provider.</summary>
public static class MeshTracerProviderBuilderExtensions
{
    private const string GrpcClientSource = "Grpc.Net.Client";

    /// <summary>
    /// Collects the mesh's spans: one per logical call to a service (<c>mesh.service</c>, outcome, attempts) and one per
    /// attempt beneath it (the endpoint, its zone, the attempt number and why it was made). Also collects the spans of
    /// Grpc.Net.Client, which wrap a meshed gRPC call: left unsampled, they would make a parent-based sampler drop the
    /// mesh's spans beneath them.
    /// </summary>
    /// <param name="builder">The tracer provider builder.</param>
    /// <returns>The same builder.</returns>
    public static TracerProviderBuilder AddMeshInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSource(MeshTelemetry.Name, GrpcClientSource);
    }
}
