using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mesh.Cli;

/// <summary>
/// The difference between two policy documents, key by key, in the configuration paths meshd's validator names
/// (<c>Retry:MaxAttempts</c>, <c>Routes:0:Match:Path</c>), so a diff line and a validation error point at the same field.
/// </summary>
internal static class PolicyDiff
{
    /// <summary>One changed key: <c>+</c> added, <c>-</c> removed, <c>~</c> changed.</summary>
    public sealed record Change(string Op, string Path, string? Before, string? After)
    {
        public override string ToString() => Op switch
        {
            "+" => $"+ {Path}: {After}",
            "-" => $"- {Path}: {Before}",
            _ => $"~ {Path}: {Before} → {After}",
        };
    }

    public static IReadOnlyList<Change> Compare(JsonElement? before, JsonElement? after)
    {
        var left = Flatten(before);
        var right = Flatten(after);
        var changes = new List<Change>();
        foreach (var path in left.Keys.Union(right.Keys, StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var had = left.TryGetValue(path, out var old);
            var has = right.TryGetValue(path, out var now);
            if (had && has && old != now)
            {
                changes.Add(new Change("~", path, old, now));
            }
            else if (had && !has)
            {
                changes.Add(new Change("-", path, old, null));
            }
            else if (!had && has)
            {
                changes.Add(new Change("+", path, null, now));
            }
        }

        return changes;
    }

    /// <summary>Every leaf of a document by its path, its value as compact JSON; an empty object or array is a leaf too.</summary>
    public static SortedDictionary<string, string> Flatten(JsonElement? document)
    {
        var leaves = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (document is { } element && element.ValueKind != JsonValueKind.Null)
        {
            Walk(JsonNode.Parse(element.GetRawText()), string.Empty, leaves);
        }

        return leaves;
    }

    private static void Walk(JsonNode? node, string path, SortedDictionary<string, string> leaves)
    {
        switch (node)
        {
            case JsonObject { Count: > 0 } o:
                foreach (var (key, value) in o)
                {
                    Walk(value, path.Length == 0 ? key : $"{path}:{key}", leaves);
                }

                break;
            case JsonArray { Count: > 0 } a:
                for (var i = 0; i < a.Count; i++)
                {
                    Walk(a[i], $"{path}:{i}", leaves);
                }

                break;
            default:
                if (path.Length > 0)
                {
                    leaves[path] = node?.ToJsonString() ?? "null";
                }

                break;
        }
    }
}
