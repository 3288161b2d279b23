using System.Text.Json;
using System.Text.Json.Serialization;

namespace Meshd.Registry;

/// <summary>The lease of one instance, as stored: when it lapses unless renewed. Never part of a snapshot.</summary>
internal sealed record LeaseRecord([property: JsonPropertyName("expiresAt")] DateTimeOffset ExpiresAt)
{
    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this);

    /// <summary>Reads a stored lease.</summary>
    /// <exception cref="JsonException">The value is not a lease.</exception>
    public static LeaseRecord FromUtf8(byte[] value)
    {
        using var document = JsonDocument.Parse(value);
        return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("expiresAt", out var at) && at.TryGetDateTimeOffset(out var expiresAt)
            ? new LeaseRecord(expiresAt)
            : throw new JsonException("A lease is { \"expiresAt\": \"<time>\" }.");
    }
}
