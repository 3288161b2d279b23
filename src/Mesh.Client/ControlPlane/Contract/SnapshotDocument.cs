using System.Text.Json.Serialization;

namespace Mesh.ControlPlane.Contract;

/// <summary>
/// One version of the mesh as meshd serves it at <c>GET /v1/snapshot</c>: every service with its policy and its
/// registered instances. meshd writes it and clients read it through this one type.
/// </summary>
internal sealed record SnapshotDocument
{
    /// <summary>Gets the snapshot's version: the store revision of the last change in it; it never goes back.</summary>
    [JsonPropertyName("version")]
    public required long Version { get; init; }

    /// <summary>Gets the services by name: those with a policy, registered instances, or both.</summary>
    [JsonPropertyName("services")]
    public required IReadOnlyDictionary<string, ServiceDocument> Services { get; init; }
}
