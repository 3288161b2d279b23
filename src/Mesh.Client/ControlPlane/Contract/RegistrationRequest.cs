using System.Text.Json.Serialization;

namespace Mesh.ControlPlane.Contract;

/// <summary>The body of <c>PUT /v1/services/{service}/instances/{instanceId}</c>: an instance registering itself.</summary>
internal sealed record RegistrationRequest
{
    /// <summary>Gets the address other services reach the instance at: scheme, host and port.</summary>
    [JsonPropertyName("address")]
    public required string Address { get; init; }

    /// <summary>Gets the zone the instance runs in, when known.</summary>
    [JsonPropertyName("zone")]
    public string? Zone { get; init; }

    /// <summary>Gets the instance's labels.</summary>
    [JsonPropertyName("labels")]
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>Gets the instance's weight, from 0 to 10 000; 1 when absent.</summary>
    [JsonPropertyName("weight")]
    public int? Weight { get; init; }
}
