namespace Mesh.Resilience;

/// <summary>Per-request settings a caller sets in <see cref="HttpRequestMessage.Options"/>.</summary>
public static class MeshRequestOptions
{
    /// <summary>
    /// Marks a request as idempotent, so the mesh may retry or hedge it whatever its method.
    /// <c>request.Options.Set(MeshRequestOptions.Idempotent, true)</c>.
    /// </summary>
    public static HttpRequestOptionsKey<bool> Idempotent { get; } = new("Mesh.Idempotent");

    /// <summary>
    /// Asks the mesh to explain the call, as the header <see cref="MeshExplanation.RequestHeader"/> does: the answer
    /// carries <see cref="MeshExplanation.ResponseHeader"/>. <c>request.Options.Set(MeshRequestOptions.Explain, true)</c>.
    /// </summary>
    public static HttpRequestOptionsKey<bool> Explain { get; } = new("Mesh.Explain");
}
