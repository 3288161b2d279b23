using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Serialization;

namespace Mesh.Cli;

/// <summary>The forms meshctl prints: aligned tables for people, JSON or YAML for scripts.</summary>
internal static class Output
{
    public const string Table = "table";
    public const string Json = "json";
    public const string Yaml = "yaml";

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly JsonSerializerOptions s_jsonLine = new(s_json) { WriteIndented = false };

    /// <summary>Writes <paramref name="value"/> as JSON or YAML, one document; <paramref name="compact"/> writes JSON on one line (a frame of a live view).</summary>
    public static void Document(TextWriter output, string format, object value, bool compact = false)
    {
        var node = value as JsonNode ?? JsonSerializer.SerializeToNode(value, value.GetType(), s_json);
        if (format == Yaml)
        {
            output.Write(new SerializerBuilder().WithQuotingNecessaryStrings().Build().Serialize(Plain(node)));
            if (compact)
            {
                output.WriteLine("---");
            }

            return;
        }

        output.WriteLine(node is null ? "null" : node.ToJsonString(compact ? s_jsonLine : s_json));
    }

    /// <summary>Columns separated by two spaces, each as wide as its widest cell; the header in capitals.</summary>
    public static void Rows(TextWriter output, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows, string indent = "")
    {
        var all = new List<IReadOnlyList<string>> { header };
        all.AddRange(rows);
        var widths = new int[header.Count];
        foreach (var row in all)
        {
            for (var i = 0; i < row.Count; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        foreach (var row in all)
        {
            var line = new StringBuilder(indent);
            for (var i = 0; i < row.Count; i++)
            {
                line.Append(i == row.Count - 1 ? row[i] : row[i].PadRight(widths[i] + 2));
            }

            output.WriteLine(line.ToString().TrimEnd());
        }
    }

    public static string Number(double value, string format = "0.0") => value.ToString(format, CultureInfo.InvariantCulture);

    public static string Percent(double rate) => (rate * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%";

    public static string Ms(double ms) => ms.ToString(ms < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + "ms";

    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A span from now, such as <c>in 12s</c> or <c>3m ago</c>.</summary>
    public static string Relative(DateTimeOffset at, DateTimeOffset now)
    {
        var span = at - now;
        var magnitude = span.Duration();
        var text = magnitude.TotalDays >= 2 ? $"{(int)magnitude.TotalDays}d"
            : magnitude.TotalHours >= 2 ? $"{(int)magnitude.TotalHours}h"
            : magnitude.TotalMinutes >= 2 ? $"{(int)magnitude.TotalMinutes}m"
            : $"{(int)magnitude.TotalSeconds}s";
        return span >= TimeSpan.Zero ? $"in {text}" : $"{text} ago";
    }

    public static string List(IEnumerable<string> items) => items.Any() ? string.Join(",", items) : "-";

    private static object? Plain(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => o.ToDictionary(p => p.Key, p => Plain(p.Value)),
        JsonArray a => a.Select(Plain).ToList(),
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number when v.TryGetValue<long>(out var l) => l,
            JsonValueKind.Number => v.GetValue<double>(),
            _ => null,
        },
        _ => null,
    };
}
