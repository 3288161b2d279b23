using System.Text.Json.Serialization;

namespace Mesh.ControlPlane.Contract;

/// <summary>meshd's answer to a registration or a renewal: the instance's lease.</summary>
internal sealed record LeaseDocument
{
    /// <summary>Gets the instance's id.</summary>
    [JsonPropertyName("instanceId")]
    public required string InstanceId { get; init; }

    /// <summary>Gets how long the lease lasts unless renewed.</summary>
    [JsonPropertyName("ttl")]
    public required TimeSpan Ttl { get; init; }

    /// <summary>Gets when the lease lapses unless renewed.</summary>
    [JsonPropertyName("expiresAt")]
    public required DateTimeOffset ExpiresAt { get; init; }
}
