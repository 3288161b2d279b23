using System.Text.Json;
using System.Text.Json.Serialization;

namespace Meshd.Registry;

/// <summary>One registered instance as stored and served.</summary>
internal sealed record InstanceRecord(
    [property: JsonPropertyName("instanceId")] string InstanceId,
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("zone")] string? Zone,
    [property: JsonPropertyName("labels")] SortedDictionary<string, string> Labels,
    [property: JsonPropertyName("weight")] int Weight)
{
    private static readonly JsonSerializerOptions s_options = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this, s_options);

    public static InstanceRecord FromUtf8(byte[] value) => JsonSerializer.Deserialize<InstanceRecord>(value, s_options)!;
}

/// <summary>The lease of one instance: when it lapses unless renewed.</summary>
internal sealed record LeaseRecord([property: JsonPropertyName("expiresAt")] DateTimeOffset ExpiresAt)
{
    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this);

    public static LeaseRecord FromUtf8(byte[] value) => JsonSerializer.Deserialize<LeaseRecord>(value)!;
}
