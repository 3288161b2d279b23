using System.Text.Json.Serialization;

namespace Mesh.ControlPlane.Contract;

/// <summary>One registered instance of a service, as meshd stores it and serves it in a snapshot.</summary>
internal sealed record InstanceDocument
{
    /// <summary>Gets the instance's id, unique within its service.</summary>
    [JsonPropertyName("instanceId")]
    public required string InstanceId { get; init; }

    /// <summary>Gets the address callers send requests to: scheme, host and port.</summary>
    [JsonPropertyName("address")]
    public required string Address { get; init; }

    /// <summary>Gets the zone the instance runs in, when known.</summary>
    [JsonPropertyName("zone")]
    public string? Zone { get; init; }

    /// <summary>Gets the instance's labels, such as <c>version=v2</c>.</summary>
    [JsonPropertyName("labels")]
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>Gets the instance's share of traffic relative to the others of its service; 0 drains it.</summary>
    [JsonPropertyName("weight")]
    public int Weight { get; init; } = 1;
}
