using System.Text.Json;
using System.Text.Json.Serialization;

namespace Meshd.Registry;

/// <summary>The lease of one instance, as stored: when it lapses unless renewed. Never part of a snapshot.</summary>
internal sealed record LeaseRecord([property: JsonPropertyName("expiresAt")] DateTimeOffset ExpiresAt)
{
    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this);

    public static LeaseRecord FromUtf8(byte[] value) => JsonSerializer.Deserialize<LeaseRecord>(value)!;
}
