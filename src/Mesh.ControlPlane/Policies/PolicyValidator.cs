using System.Collections;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Mesh;
using Mesh.Configuration;

namespace Meshd.Policies;

/// <summary>
/// Checks a policy document with the client's own binder and validator, as if it were <c>Mesh:Services:{service}</c>
/// in appsettings, and names each bad field by its configuration path (<c>Retry:MaxAttempts</c>).
/// </summary>
internal static partial class PolicyValidator
{
    private const string EndpointsField = nameof(MeshServiceOptions.Endpoints);

    /// <summary>Returns the errors by field path; empty when the document is valid.</summary>
    public static Dictionary<string, string[]> Validate(string service, JsonNode? policy)
    {
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (policy is not JsonObject document)
        {
            Add(errors, "$", "A policy is a JSON object, such as { \"LoadBalancer\": \"RoundRobin\" }.");
            return Freeze(errors);
        }

        // The binder reports wrong types and unknown keys without their path, so the shape is checked here first.
        CheckShape(document, typeof(MeshServiceOptions), string.Empty, errors, top: true);
        if (errors.Count > 0)
        {
            return Freeze(errors);
        }

        var prefix = $"{MeshOptionsValidator.Section}:Services:{service}";
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        Flatten(document, prefix, settings);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var options = new MeshOptions();
        options.Services[service] = new MeshServiceOptions();
        new MeshConfigurationBinder(configuration).Configure(options);
        var result = new MeshOptionsValidator().Validate(null, options);
        foreach (var failure in result.Failures ?? [])
        {
            var (field, message) = Split(failure, prefix);
            Add(errors, field, message);
        }

        return Freeze(errors);
    }

    /// <summary>
    /// Spells every field of a policy (or a merge patch of one) as the schema does (<c>retry</c> becomes <c>Retry</c>), so
    /// one document never holds a field twice in two cases. Fields that would collide, or that the schema does not
    /// know, are left as they are for <see cref="Validate"/> to name.
    /// </summary>
    public static JsonNode? Canonicalize(JsonNode? node) => Canonicalize(node, typeof(MeshServiceOptions));

    private static JsonNode? Canonicalize(JsonNode? node, Type type)
    {
        if (node is not JsonObject obj)
        {
            return node?.DeepClone();
        }

        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        var result = new JsonObject();
        var spellings = obj.GroupBy(p => p.Key, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.Count(), StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in obj)
        {
            var property = properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
            if (property is null || spellings[name] > 1)
            {
                result[name] = value?.DeepClone();
                continue;
            }

            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            result[property.Name] = IsScalar(propertyType) || ElementType(propertyType) is not null || DictionaryValueType(propertyType) is not null ? value?.DeepClone() : Canonicalize(value, propertyType);
        }

        return result;
    }

    /// <summary>Flattens a JSON object into configuration keys, as the JSON configuration provider does.</summary>
    internal static void Flatten(JsonNode? node, string path, Dictionary<string, string?> settings)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, value) in obj)
                {
                    Flatten(value, path + ":" + name, settings);
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    Flatten(array[i], path + ":" + i.ToString(CultureInfo.InvariantCulture), settings);
                }

                break;
            case JsonValue value:
                settings[path] = Scalar(value);
                break;
            default:
                // null: the field is absent, its default applies.
                break;
        }
    }

    private static void CheckShape(JsonObject obj, Type type, string path, Dictionary<string, List<string>> errors, bool top = false)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in obj)
        {
            var field = path.Length == 0 ? name : path + ":" + name;
            if (seen.TryGetValue(name, out var first))
            {
                // Configuration keys ignore case: the binder would keep one of the two silently.
                Add(errors, field, $"'{first}' and '{name}' name the same field (names ignore case); send it once.");
                continue;
            }

            seen[name] = name;
            if (top && string.Equals(name, EndpointsField, StringComparison.OrdinalIgnoreCase))
            {
                Add(errors, field, "Endpoints are not part of a policy: instances come from the registry (PUT /v1/services/{service}/instances/{id}).");
                continue;
            }

            var property = properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                Add(errors, field, $"'{name}' is not a known field (known: {string.Join(", ", properties.Where(p => !top || p.Name != EndpointsField).Select(p => p.Name))}).");
                continue;
            }

            if (value is null)
            {
                continue;
            }

            CheckValue(value, property.PropertyType, field, errors);
        }
    }

    private static void CheckValue(JsonNode value, Type type, string field, Dictionary<string, List<string>> errors)
    {
        var scalarType = Nullable.GetUnderlyingType(type) ?? type;
        if (IsScalar(scalarType))
        {
            if (value is not JsonValue scalar || scalar.GetValueKind() is JsonValueKind.Object or JsonValueKind.Array)
            {
                Add(errors, field, $"Expected {Describe(scalarType)}, got {Kind(value)}.");
                return;
            }

            if (scalarType == typeof(TimeSpan))
            {
                // The binder reads "1" or 1 as one day; a duration must say its unit by its form.
                if (scalar.GetValueKind() != JsonValueKind.String)
                {
                    Add(errors, field, $"Expected a duration such as \"00:00:05\", got {Kind(value)} ({Scalar(scalar)} would be read as {Scalar(scalar)} days).");
                    return;
                }

                var duration = scalar.GetValue<string>();
                if (!duration.Contains(':', StringComparison.Ordinal))
                {
                    Add(errors, field, $"'{duration}' is not a duration such as \"00:00:05\" (a bare number would be read as days).");
                    return;
                }
            }

            if (scalar.GetValueKind() == JsonValueKind.String && Names.TextProblem(scalar.GetValue<string>()) is { } badText)
            {
                Add(errors, field, $"'{scalar.GetValue<string>()}' {badText}");
                return;
            }

            if (scalarType == typeof(string))
            {
                if (scalar.GetValueKind() != JsonValueKind.String)
                {
                    Add(errors, field, $"Expected a string, got {Kind(value)}.");
                }

                return;
            }

            var text = Scalar(scalar);
            try
            {
                _ = TypeDescriptor.GetConverter(scalarType).ConvertFromInvariantString(text);
            }
            catch (Exception ex) when (ex is FormatException or NotSupportedException or ArgumentException or OverflowException || ex.InnerException is FormatException or OverflowException)
            {
                Add(errors, field, $"'{text}' is not {Describe(scalarType)}.");
            }

            return;
        }

        // A map such as a route destination's Labels: an object whose names are data, each value of the map's value type.
        if (DictionaryValueType(scalarType) is { } mapValue)
        {
            if (value is not JsonObject map)
            {
                Add(errors, field, $"Expected an object, got {Kind(value)}.");
                return;
            }

            foreach (var (key, item) in map)
            {
                if (item is null)
                {
                    Add(errors, field + ":" + key, "Expected a value, got null.");
                    continue;
                }

                CheckValue(item, mapValue, field + ":" + key, errors);
            }

            return;
        }

        var element = ElementType(scalarType);
        if (element is not null)
        {
            if (value is not JsonArray array)
            {
                Add(errors, field, $"Expected an array, got {Kind(value)}.");
                return;
            }

            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is { } item)
                {
                    CheckValue(item, element, field + ":" + i.ToString(CultureInfo.InvariantCulture), errors);
                }
            }

            return;
        }

        if (value is not JsonObject nested)
        {
            Add(errors, field, $"Expected an object, got {Kind(value)}.");
            return;
        }

        CheckShape(nested, scalarType, field, errors);
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(Uri);

    private static Type? DictionaryValueType(Type type) =>
        type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>) && i.GetGenericArguments()[0] == typeof(string))?.GetGenericArguments()[1];

    private static Type? ElementType(Type type)
    {
        if (type == typeof(string) || !typeof(IEnumerable).IsAssignableFrom(type))
        {
            return null;
        }

        return type.IsArray
            ? type.GetElementType()
            : type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];
    }

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(TimeSpan) => "a duration such as \"00:00:05\"",
        _ when type == typeof(int) || type == typeof(long) => "an integer",
        _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "a number",
        _ when type == typeof(bool) => "true or false",
        _ => "a " + type.Name,
    };

    private static string Kind(JsonNode value) => value.GetValueKind() switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private static string Scalar(JsonValue value) =>
        value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString();

    private static (string Field, string Message) Split(string failure, string prefix)
    {
        // "Mesh:Services:inventory:Retry:MaxAttempts: 0 is out of range ..." -> ("Retry:MaxAttempts", "0 is out of range ...")
        if (failure.StartsWith(prefix + ":", StringComparison.OrdinalIgnoreCase))
        {
            var rest = failure[(prefix.Length + 1)..];
            var colon = rest.IndexOf(": ", StringComparison.Ordinal);
            if (colon > 0)
            {
                return (rest[..colon], rest[(colon + 2)..]);
            }
        }

        var at = BinderPath().Match(failure);
        if (at.Success)
        {
            return (at.Groups["field"].Value, failure);
        }

        return (failure.StartsWith(prefix + ": ", StringComparison.OrdinalIgnoreCase) ? "service" : "$", failure);
    }

    private static void Add(Dictionary<string, List<string>> errors, string field, string message)
    {
        if (!errors.TryGetValue(field, out var list))
        {
            list = [];
            errors[field] = list;
        }

        list.Add(message);
    }

    private static Dictionary<string, string[]> Freeze(Dictionary<string, List<string>> errors) =>
        errors.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal);

    [GeneratedRegex("at 'Mesh:Services:[^:']+:(?<field>[^']+)'")]
    private static partial Regex BinderPath();
}
