using System.Collections;
using System.Globalization;
using System.Reflection;
using Mesh.Configuration;
using Mesh.ControlPlane;
using Mesh.Pipeline;
using Microsoft.Extensions.Configuration;

namespace Mesh.AspNetCore.Endpoints;

/// <summary>
/// What <c>GET /mesh/config</c> answers: per service of the catalog's snapshot in force, every option it runs with and,
/// per key of <c>Mesh:Services:{name}</c>, which configuration provider set it (the last one of the layered
/// configuration that has the key) and which one it overrides. Only the keys of the services are read: the
/// control plane's address and token, and any other key outside <c>Mesh:Services</c>, never appear.
/// </summary>
internal static class MeshConfigView
{
    /// <summary>The source of keys pushed by the control plane.</summary>
    public const string Meshd = "meshd";

    /// <summary>The source of keys of the application's own configuration.</summary>
    public const string AppSettings = "appsettings";

    /// <summary>The source of options no key sets, at their default value.</summary>
    public const string Default = "default";

    /// <summary>The source of options no key sets that differ from their default: set by the application's code (<c>AddMesh(o => …)</c>).</summary>
    public const string Code = "code";

    private const int MaxDepth = 12;

    public static object Build(ServiceCatalog catalog, MeshConfigurationRoot root, ControlPlaneWatcher watcher)
    {
        var providers = Leaves(root.Configuration).ToList();
        var snapshot = watcher.Current;
        var policyVersions = snapshot.PolicyVersions;
        return new
        {
            version = catalog.Version,
            controlPlaneVersion = snapshot.Version == 0 ? (long?)null : snapshot.Version,
            services = catalog.ServiceNames.Order(StringComparer.OrdinalIgnoreCase).Select(name =>
            {
                catalog.TryGetService(name, out var service);
                return new
                {
                    service = name,
                    policyVersion = policyVersions.TryGetValue(name, out var version) ? version : (long?)null,
                    keys = Keys(name, service?.Options ?? new MeshServiceOptions(), root, providers),
                };
            }).ToList(),
        };
    }

    private static List<object> Keys(string service, MeshServiceOptions options, MeshConfigurationRoot root, List<IConfigurationProvider> providers)
    {
        var prefix = $"{MeshOptionsValidator.Section}:Services:{service}";
        var effective = new SortedDictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        Flatten(options, typeof(MeshServiceOptions), string.Empty, effective, 0);
        var defaults = new SortedDictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        Flatten(new MeshServiceOptions(), typeof(MeshServiceOptions), string.Empty, defaults, 0);

        // Keys set in configuration that no option flattens to (an endpoint written as one address) are listed as set.
        foreach (var (key, value) in root.Configuration.GetSection(prefix).AsEnumerable(makePathsRelative: true))
        {
            if (value is not null && !effective.ContainsKey(key))
            {
                effective[key] = value;
            }
        }

        var keys = new List<object>(effective.Count);
        foreach (var (key, value) in effective)
        {
            var setBy = SetBy($"{prefix}:{key}", providers);

            if (setBy.Count == 0)
            {
                var isDefault = defaults.TryGetValue(key, out var defaultValue) && string.Equals(defaultValue, value, StringComparison.Ordinal);
                keys.Add(new { key, value, source = isDefault ? Default : Code });
                continue;
            }

            var winner = setBy[^1];
            keys.Add(new
            {
                key,
                value,
                source = SourceOf(winner, root),
                provider = ReferenceEquals(winner, root.Pushed) ? null : winner.ToString(),
                overrides = Overrides(setBy, root),
            });
        }

        return keys;
    }

    /// <summary>
    /// The configuration keys, under <c>Mesh:Services</c>, that the application's own configuration sets over a key the
    /// control plane pushed: what <c>/mesh/config</c> shows as set by <c>appsettings</c> overriding <c>meshd</c>. Names
    /// only, ordered, at most <paramref name="limit"/>.
    /// </summary>
    public static IReadOnlyList<string> OverriddenKeys(MeshConfigurationRoot root, int limit = int.MaxValue)
    {
        var providers = Leaves(root.Configuration).ToList();
        var overridden = new List<string>();
        var prefix = $"{MeshOptionsValidator.Section}:Services:";
        foreach (var key in root.Pushed.Keys())
        {
            if (key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && Overrides(SetBy(key, providers), root) == Meshd)
            {
                overridden.Add(key);
            }
        }

        overridden.Sort(StringComparer.OrdinalIgnoreCase);
        return overridden.Count > limit ? overridden[..limit] : overridden;
    }

    /// <summary>The providers that set <paramref name="key"/>, in order: the last one wins.</summary>
    private static List<IConfigurationProvider> SetBy(string key, List<IConfigurationProvider> providers)
    {
        var setBy = new List<IConfigurationProvider>(2);
        foreach (var provider in providers)
        {
            if (provider.TryGet(key, out _))
            {
                setBy.Add(provider);
            }
        }

        return setBy;
    }

    /// <summary>
    /// The source the winner of a key beats: <c>meshd</c> whenever the control plane pushed the key and another provider
    /// set it too (the one fact an operator must see), else the provider before the winner; none when only one set it.
    /// </summary>
    private static string? Overrides(List<IConfigurationProvider> setBy, MeshConfigurationRoot root)
    {
        if (setBy.Count < 2)
        {
            return null;
        }

        return !ReferenceEquals(setBy[^1], root.Pushed) && setBy.Exists(p => ReferenceEquals(p, root.Pushed)) ? Meshd : SourceOf(setBy[^2], root);
    }

    private static string SourceOf(IConfigurationProvider provider, MeshConfigurationRoot root) =>
        ReferenceEquals(provider, root.Pushed) ? Meshd : AppSettings;

    /// <summary>The providers of a configuration in order, those of chained configurations in their place.</summary>
    private static IEnumerable<IConfigurationProvider> Leaves(IConfiguration configuration)
    {
        if (configuration is not IConfigurationRoot configurationRoot)
        {
            yield break;
        }

        foreach (var provider in configurationRoot.Providers)
        {
            if (provider is ChainedConfigurationProvider { Configuration: IConfigurationRoot } chained)
            {
                foreach (var inner in Leaves(chained.Configuration))
                {
                    yield return inner;
                }
            }
            else
            {
                yield return provider;
            }
        }
    }

    /// <summary>Writes every bindable option under <paramref name="path"/> as a configuration key and its value.</summary>
    private static void Flatten(object? value, Type type, string path, SortedDictionary<string, string?> keys, int depth)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (IsScalar(target))
        {
            keys[path] = Format(value);
            return;
        }

        if (value is null)
        {
            keys[path] = null;
            return;
        }

        if (depth >= MaxDepth || typeof(Delegate).IsAssignableFrom(target))
        {
            return;
        }

        if (value is IDictionary dictionary)
        {
            foreach (DictionaryEntry entry in dictionary)
            {
                Flatten(entry.Value, entry.Value?.GetType() ?? typeof(string), Join(path, Convert.ToString(entry.Key, CultureInfo.InvariantCulture)!), keys, depth + 1);
            }

            return;
        }

        if (value is IEnumerable items and not string)
        {
            var index = 0;
            foreach (var item in items)
            {
                Flatten(item, item?.GetType() ?? typeof(string), Join(path, index.ToString(CultureInfo.InvariantCulture)), keys, depth + 1);
                index++;
            }

            return;
        }

        foreach (var property in target.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;

            // What the binder can set: scalars with a setter, objects and collections it fills in place or creates.
            if (property.GetIndexParameters().Length > 0 || property.GetMethod is not { IsPublic: true } || (IsScalar(propertyType) && property.SetMethod is not { IsPublic: true }))
            {
                continue;
            }

            Flatten(property.GetValue(value), property.PropertyType, Join(path, property.Name), keys, depth + 1);
        }
    }

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}:{key}";

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(Uri)
        || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Guid);

    private static string? Format(object? value) => value switch
    {
        null => null,
        bool b => b ? "true" : "false",
        TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}
