using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;

namespace Meshd.Storage;

/// <summary>
/// The layout of <c>store.json</c>: <c>{"revision":N,"entries":[{"key","value","modRevision"}...],"sha256":"..."}</c>.
/// The checksum is the SHA-256 of the same document without it, as meshd writes it, so one changed character
/// anywhere is found at start. Read strictly: a missing or unknown field, a duplicate key or a revision that does
/// not cover every entry stops the start.
/// </summary>
internal static class StoreFile
{
    private const string ChecksumField = "sha256";
    private static readonly JsonDocumentOptions s_options = new() { AllowDuplicateProperties = false, MaxDepth = 8 };

    public static byte[] Write(long revision, IEnumerable<(string Key, byte[] Value, long ModRevision)> entries)
    {
        var body = Body(revision, entries);
        var checksum = Convert.ToHexStringLower(SHA256.HashData(body));
        var tail = System.Text.Encoding.UTF8.GetBytes($",\"{ChecksumField}\":\"{checksum}\"}}");
        var content = new byte[body.Length - 1 + tail.Length];
        body.AsSpan(0, body.Length - 1).CopyTo(content);
        tail.CopyTo(content.AsSpan(body.Length - 1));
        return content;
    }

    /// <summary>Reads the file, handing each entry to <paramref name="add"/>; returns the revision and whether a checksum was there.</summary>
    /// <exception cref="MeshdStartupException">The file is damaged, was changed outside meshd, or does not hold a store.</exception>
    public static (long Revision, bool Checksummed) Read(string path, byte[] content, Action<string, byte[], long> add)
    {
        var fullPath = Path.GetFullPath(path);
        MeshdStartupException Damaged(string what, Exception? inner = null)
        {
            var message = $"{fullPath} {what}, so meshd cannot trust it (damaged, cut short or changed outside meshd). " +
                "Restore it from a backup, or move it away to start with an empty store (instances register again within a lease; policies must be written again).";
            return inner is null ? new MeshdStartupException(message) : new MeshdStartupException(message, inner);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(content, s_options);
        }
        catch (JsonException ex)
        {
            throw Damaged($"is not a whole JSON document (line {(ex.LineNumber ?? 0) + 1}, byte {ex.BytePositionInLine ?? 0}: it may have been cut short)", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Damaged("does not hold a JSON object");
            }

            long? revision = null;
            string? checksum = null;
            var entries = new List<(string Key, byte[] Value, long ModRevision)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "revision" when property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt64(out var r) && r >= 0:
                        revision = r;
                        break;
                    case "entries" when property.Value.ValueKind == JsonValueKind.Array:
                        foreach (var item in property.Value.EnumerateArray())
                        {
                            var entry = ReadEntry(item) ?? throw Damaged($"has an entry that is not {{ \"key\", \"value\", \"modRevision\" }} (entry {entries.Count + 1})");
                            if (!seen.Add(entry.Key))
                            {
                                throw Damaged($"holds the key '{entry.Key}' twice");
                            }

                            entries.Add(entry);
                        }

                        break;
                    case ChecksumField when property.Value.ValueKind == JsonValueKind.String:
                        checksum = property.Value.GetString();
                        break;
                    default:
                        throw Damaged($"has an unexpected or mistyped field '{property.Name}'");
                }
            }

            if (revision is null || !root.TryGetProperty("entries", out _))
            {
                throw Damaged("lacks its revision or its entries");
            }

            if (checksum is not null && !string.Equals(checksum, Convert.ToHexStringLower(SHA256.HashData(Body(revision.Value, entries))), StringComparison.Ordinal))
            {
                throw Damaged("does not match its checksum");
            }

            if (entries.Count > 0 && entries.Max(e => e.ModRevision) > revision)
            {
                // Snapshot versions are store revisions: a revision below an entry's would send them backwards.
                throw Damaged($"has revision {revision}, below that of its newest entry ({entries.Max(e => e.ModRevision)})");
            }

            foreach (var (key, value, modRevision) in entries)
            {
                add(key, value, modRevision);
            }

            return (revision.Value, checksum is not null);
        }
    }

    private static (string Key, byte[] Value, long ModRevision)? ReadEntry(JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        string? key = null;
        byte[]? value = null;
        long? modRevision = null;
        var fields = 0;
        foreach (var property in item.EnumerateObject())
        {
            fields++;
            switch (property.Name)
            {
                case "key" when property.Value.ValueKind == JsonValueKind.String:
                    key = property.Value.GetString();
                    break;
                case "value" when property.Value.ValueKind == JsonValueKind.String && property.Value.TryGetBytesFromBase64(out var bytes):
                    value = bytes;
                    break;
                case "modRevision" when property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt64(out var m) && m >= 1:
                    modRevision = m;
                    break;
                default:
                    return null;
            }
        }

        return fields == 3 && key is { Length: > 0 } && value is not null && modRevision is not null ? (key, value, modRevision.Value) : null;
    }

    private static byte[] Body(long revision, IEnumerable<(string Key, byte[] Value, long ModRevision)> entries)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("revision", revision);
            writer.WriteStartArray("entries");
            foreach (var (key, value, modRevision) in entries)
            {
                writer.WriteStartObject();
                writer.WriteString("key", key);
                writer.WriteBase64String("value", value);
                writer.WriteNumber("modRevision", modRevision);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
