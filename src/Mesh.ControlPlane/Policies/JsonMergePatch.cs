using System.Text.Json.Nodes;

namespace Meshd.Policies;

/// <summary>RFC 7396 JSON merge patch.</summary>
internal static class JsonMergePatch
{
    public static JsonNode? Apply(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target is JsonObject targetObject ? (JsonObject)targetObject.DeepClone() : [];
        foreach (var (name, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(name);
            }
            else
            {
                var existing = result[name];
                result.Remove(name);
                result[name] = Apply(existing, value);
            }
        }

        return result;
    }
}
