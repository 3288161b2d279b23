using System.Diagnostics;

namespace Mesh.Telemetry;

/// <summary>The names of the mesh's telemetry: one <see cref="ActivitySource"/> and one meter, both named <c>Mesh</c>.</summary>
public static class MeshTelemetry
{
    /// <summary>The name of the mesh's <see cref="ActivitySource"/> and meter.</summary>
    public const string Name = "Mesh";

    /// <summary>Gets the source of the mesh's spans: one per logical call, and one per attempt beneath it.</summary>
    internal static ActivitySource Source { get; } = new(Name, typeof(MeshTelemetry).Assembly.GetName().Version?.ToString());
}
