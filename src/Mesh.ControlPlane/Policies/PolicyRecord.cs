using System.Text.Json;

namespace Meshd.Policies;

/// <summary>One version of a service's policy; <see cref="Policy"/> is absent when the document was deleted.</summary>
internal sealed record PolicyRecord(long Version, JsonElement? Policy, DateTimeOffset UpdatedAt)
{
    public byte[] ToUtf8()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("version", Version);
            writer.WritePropertyName("policy");
            if (Policy is { } policy)
            {
                policy.WriteTo(writer);
            }
            else
            {
                writer.WriteNullValue();
            }

            writer.WriteString("updatedAt", UpdatedAt);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    public static PolicyRecord FromUtf8(byte[] value)
    {
        using var document = JsonDocument.Parse(value);
        var root = document.RootElement;
        var policy = root.GetProperty("policy");
        return new PolicyRecord(
            root.GetProperty("version").GetInt64(),
            policy.ValueKind == JsonValueKind.Null ? null : policy.Clone(),
            root.GetProperty("updatedAt").GetDateTimeOffset());
    }
}
