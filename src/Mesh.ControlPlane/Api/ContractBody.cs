using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace Meshd.Api;

/// <summary>
/// Reads a request of the contract whose fields are all text (<c>SvidRequest</c>, <c>CredentialRequest</c>,
/// <c>AuthorityRequest</c>) strictly, naming each bad field: a JSON object, each field once (no case variants), only
/// the contract's fields spelled as it spells them, each a string (or null where the contract allows), every field
/// without a default present. What passes is read through the contract's own serializer.
/// </summary>
internal static class ContractBody
{
    public static T? Read<T>(JsonNode? body, JsonTypeInfo<T> info, string example, Dictionary<string, string[]> errors, Func<string, string, string?>? check = null)
        where T : class
    {
        if (body is not JsonObject obj)
        {
            errors["$"] = [$"Expected a JSON object, such as {example}."];
            return null;
        }

        var known = info.Properties.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in obj)
        {
            if (seen.TryGetValue(name, out var first))
            {
                errors[name] = [$"'{first}' and '{name}' name the same field; send it once."];
                continue;
            }

            seen[name] = name;
            if (!known.TryGetValue(name, out var property))
            {
                var spelled = known.Keys.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
                errors[Shown(name)] = [spelled is not null
                    ? $"'{Shown(name)}' is not a known field: field names are camel case, '{spelled}'."
                    : $"'{Shown(name)}' is not a known field (known: {string.Join(", ", known.Keys)})."];
                continue;
            }

            if (value is null)
            {
                if (property.AssociatedParameter is { HasDefaultValue: false })
                {
                    errors[name] = ["Required; null is not a value."];
                }

                continue;
            }

            if (value.GetValueKind() != JsonValueKind.String)
            {
                errors[name] = [$"Expected a string, not {value.GetValueKind().ToString().ToLowerInvariant()}."];
                continue;
            }

            if (check?.Invoke(name, value.GetValue<string>()) is { } problem)
            {
                errors[name] = [problem];
            }
        }

        foreach (var property in info.Properties)
        {
            if (property.AssociatedParameter is { HasDefaultValue: false } && !seen.ContainsKey(property.Name))
            {
                errors[property.Name] = ["Required."];
            }
        }

        if (errors.Count > 0)
        {
            return null;
        }

        try
        {
            return obj.Deserialize(info) ?? throw new JsonException("null");
        }
        catch (JsonException ex)
        {
            var field = ex.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : "$";
            errors[field] = [$"Cannot be read: {ex.Message.Split(" Path:")[0]}"];
            return null;
        }
    }

    // An unknown field's name is echoed back: bounded, so a megabyte of name is not answered with a megabyte.
    private static string Shown(string name) => name.Length <= 64 ? name : name[..64] + "…";
}
