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

    /// <summary>Reads a stored version, or says why it cannot (a value not written by meshd).</summary>
    public static bool TryFromUtf8(byte[] value, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PolicyRecord? record, out string problem)
    {
        try
        {
            record = FromUtf8(value);
            problem = string.Empty;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            record = null;
            problem = ex.Message;
            return false;
        }
    }

    /// <summary>Reads a stored version.</summary>
    /// <exception cref="JsonException">The value is not a policy version.</exception>
    public static PolicyRecord FromUtf8(byte[] value)
    {
        using var document = JsonDocument.Parse(value);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("policy", out var policy) || policy.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null)
            || !root.TryGetProperty("version", out var version) || !version.TryGetInt64(out var number) || number < 1)
        {
            throw new JsonException("A policy version is { \"version\": n, \"policy\": { } or null, \"updatedAt\": \"<time>\" }.");
        }

        return new PolicyRecord(
            number,
            policy.ValueKind == JsonValueKind.Null ? null : policy.Clone(),
            root.GetProperty("updatedAt").GetDateTimeOffset());
    }
}
