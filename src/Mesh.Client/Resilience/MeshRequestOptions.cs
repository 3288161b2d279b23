namespace Mesh.Resilience;

/// <summary>Per-request settings a caller sets in <see cref="HttpRequestMessage.Options"/>.</summary>
public static class MeshRequestOptions
{
    /// <summary>
    /// Marks a request as idempotent, so the mesh may retry or hedge it whatever its method.
    /// <c>request.Options.Set(MeshRequestOptions.Idempotent, true)</c>.
    /// </summary>
    public static HttpRequestOptionsKey<bool> Idempotent { get; } = new("Mesh.Idempotent");
}
