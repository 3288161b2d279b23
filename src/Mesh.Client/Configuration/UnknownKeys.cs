using System.Collections;
using System.ComponentModel;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Mesh.Configuration;

/// <summary>
/// Finds configuration keys that no option has, naming each by its full path (and its service), as meshd names a
/// mistyped field of a pushed policy: <c>Mesh:Services:inventory:Retry:MaxAttemps: 'MaxAttemps' is not a known setting…</c>.
/// </summary>
internal static class UnknownKeys
{
    private const string ServicesPrefix = MeshOptionsValidator.Section + ":Services:";

    /// <summary>Adds a failure for each key under <paramref name="section"/> that <paramref name="type"/> has no property for.</summary>
    public static void Find(IConfiguration section, Type type, string path, List<string> failures)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        foreach (var child in section.GetChildren())
        {
            var childPath = $"{path}:{child.Key}";
            var property = Array.Find(properties, p => string.Equals(p.Name, child.Key, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                failures.Add($"{childPath}: '{child.Key}' is not a known setting{OfService(childPath)} (known: {string.Join(", ", properties.Select(p => p.Name))}).");
                continue;
            }

            Walk(child, property.PropertyType, childPath, failures);
        }
    }

    private static void Walk(IConfigurationSection section, Type type, string path, List<string> failures)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;

        // Scalars, and objects written as one string (an endpoint's address): the binder judges the value itself.
        if (IsScalar(target) || (section.Value is not null && TypeDescriptor.GetConverter(target).CanConvertFrom(typeof(string))))
        {
            return;
        }

        if (Generic(target, typeof(IDictionary<,>)) is { } dictionary)
        {
            foreach (var entry in section.GetChildren())
            {
                Walk(entry, dictionary[1], $"{path}:{entry.Key}", failures);
            }

            return;
        }

        if (target != typeof(string) && typeof(IEnumerable).IsAssignableFrom(target) && (target.IsArray ? target.GetElementType() : Generic(target, typeof(IEnumerable<>))?[0]) is { } element)
        {
            foreach (var item in section.GetChildren())
            {
                Walk(item, element, $"{path}:{item.Key}", failures);
            }

            return;
        }

        Find(section, target, path, failures);
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(Uri);

    private static Type[]? Generic(Type type, Type definition) =>
        (type.IsGenericType && type.GetGenericTypeDefinition() == definition ? type : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == definition))
            ?.GetGenericArguments();

    private static string OfService(string path)
    {
        if (!path.StartsWith(ServicesPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return string.Empty;
        }

        var rest = path[ServicesPrefix.Length..];
        var colon = rest.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? string.Empty : $" of service '{rest[..colon]}'";
    }
}
