using System.Text.Json;

namespace Meshd.Security;

/// <summary>
/// A per-service credential as stored under <c>credentials/{id}</c>: the service it is bound to, when it was made, and
/// the SHA-256 of its token. The token itself is never stored, so a copy of the store grants nothing.
/// </summary>
internal sealed record CredentialRecord(string Id, string Service, DateTimeOffset CreatedAt, byte[] TokenHash)
{
    public byte[] ToUtf8()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("service", Service);
            writer.WriteString("createdAt", CreatedAt);
            writer.WriteString("sha256", Convert.ToHexStringLower(TokenHash));
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Reads a stored credential strictly; a value meshd did not write is refused with the reason.</summary>
    public static bool TryFromUtf8(string id, byte[] value, out CredentialRecord? record, out string problem)
    {
        record = null;
        problem = string.Empty;
        try
        {
            using var document = JsonDocument.Parse(value, new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 4 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("service", out var service) || service.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("createdAt", out var createdAt) || !createdAt.TryGetDateTimeOffset(out var created)
                || !root.TryGetProperty("sha256", out var hash) || hash.ValueKind != JsonValueKind.String)
            {
                problem = "a credential is { \"service\", \"createdAt\", \"sha256\" }";
                return false;
            }

            var name = service.GetString()!;
            if (Names.CheckCanonicalService(name) is { } badService)
            {
                problem = badService;
                return false;
            }

            var hex = hash.GetString()!;
            if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigitLower))
            {
                problem = "its sha256 is not 64 lower-case hexadecimal digits";
                return false;
            }

            record = new CredentialRecord(id, name, created, Convert.FromHexString(hex));
            return true;
        }
        catch (JsonException ex)
        {
            problem = ex.Message;
            return false;
        }
    }
}
