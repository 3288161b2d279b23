using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using Mesh.Configuration;
using Mesh.Discovery;

namespace Mesh.ControlPlane;

/// <summary>
/// One snapshot of the control plane (<c>GET /v1/snapshot</c>), read into what the mesh applies: the policy of each
/// service as configuration keys, and its registered instances as endpoints. Immutable.
/// </summary>
internal sealed class ControlPlaneSnapshot
{
    private ControlPlaneSnapshot(long version, FrozenDictionary<string, string?> keys, FrozenDictionary<string, IReadOnlyList<MeshEndpoint>> instances, byte[] body)
    {
        Version = version;
        Keys = keys;
        Instances = instances;
        Body = body;
    }

    /// <summary>Gets a snapshot with no service, in force until the first one arrives.</summary>
    public static ControlPlaneSnapshot Empty { get; } = new(
        0,
        FrozenDictionary<string, string?>.Empty,
        FrozenDictionary<string, IReadOnlyList<MeshEndpoint>>.Empty,
        []);

    /// <summary>Gets the control plane's version of the snapshot.</summary>
    public long Version { get; }

    /// <summary>Gets the policies as configuration keys, <c>Mesh:Services:{name}:{field}</c>.</summary>
    public FrozenDictionary<string, string?> Keys { get; }

    /// <summary>Gets the registered instances of every service the snapshot names, possibly none.</summary>
    public FrozenDictionary<string, IReadOnlyList<MeshEndpoint>> Instances { get; }

    /// <summary>Gets the bytes the snapshot was read from, as kept in the cache.</summary>
    public byte[] Body { get; }

    /// <summary>Reads a snapshot, or says every field that is wrong with it.</summary>
    public static ControlPlaneSnapshot? TryParse(byte[] body, List<string> failures)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            failures.Add($"snapshot: not valid JSON ({ex.Message}).");
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                failures.Add("snapshot: not a JSON object.");
                return null;
            }

            long version = 0;
            if (!root.TryGetProperty("version", out var versionElement) || !versionElement.TryGetInt64(out version) || version < 0)
            {
                failures.Add("snapshot:version: missing or not a whole number of 0 or more.");
            }

            var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            var instances = new Dictionary<string, IReadOnlyList<MeshEndpoint>>(StringComparer.OrdinalIgnoreCase);
            if (root.TryGetProperty("services", out var services) && services.ValueKind == JsonValueKind.Object)
            {
                foreach (var service in services.EnumerateObject())
                {
                    ReadService(service.Name, service.Value, keys, instances, failures);
                }
            }
            else if (root.TryGetProperty("services", out services) && services.ValueKind != JsonValueKind.Null)
            {
                failures.Add("snapshot:services: not a JSON object.");
            }

            return failures.Count == 0
                ? new ControlPlaneSnapshot(version, keys.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), instances.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), body)
                : null;
        }
    }

    private static void ReadService(string name, JsonElement service, Dictionary<string, string?> keys, Dictionary<string, IReadOnlyList<MeshEndpoint>> instances, List<string> failures)
    {
        var path = $"services:{name}";
        if (!MeshOptionsValidator.IsServiceName(name))
        {
            failures.Add($"{path}: '{name}' is not a valid service name (letters, digits, '-' and '.', as in a host name).");
            return;
        }

        if (service.ValueKind != JsonValueKind.Object)
        {
            failures.Add($"{path}: not a JSON object.");
            return;
        }

        var prefix = $"{MeshOptionsValidator.Section}:Services:{name}";

        // The service exists for the options even with no policy: a service known only to the control plane is routable.
        keys[$"{prefix}:{nameof(MeshServiceOptions.LoadBalancer)}"] = new MeshServiceOptions().LoadBalancer;
        if (service.TryGetProperty("policy", out var policy) && policy.ValueKind != JsonValueKind.Null)
        {
            if (policy.ValueKind != JsonValueKind.Object)
            {
                failures.Add($"{path}:policy: not a JSON object.");
            }
            else
            {
                foreach (var field in policy.EnumerateObject())
                {
                    if (string.Equals(field.Name, nameof(MeshServiceOptions.Endpoints), StringComparison.OrdinalIgnoreCase))
                    {
                        failures.Add($"{prefix}:Endpoints: a pushed policy may not list endpoints; they come from the registry.");
                        continue;
                    }

                    Flatten($"{prefix}:{field.Name}", field.Value, keys);
                }
            }
        }

        var list = new List<MeshEndpoint>();
        if (service.TryGetProperty("instances", out var items) && items.ValueKind == JsonValueKind.Array)
        {
            var seen = new HashSet<Uri>();
            var index = 0;
            foreach (var item in items.EnumerateArray())
            {
                if (ReadInstance($"{path}:instances:{index++}", name, item, failures) is { } endpoint && seen.Add(endpoint.Address))
                {
                    // Two instance ids on one address (a restart before the old lease lapsed) are one endpoint.
                    list.Add(endpoint);
                }
            }
        }
        else if (service.TryGetProperty("instances", out items) && items.ValueKind != JsonValueKind.Null)
        {
            failures.Add($"{path}:instances: not a JSON array.");
        }

        if (list.Count > 0 && list.TrueForAll(e => e.Weight == 0))
        {
            failures.Add($"{path}:instances: every instance of service '{name}' has weight 0, so none could receive traffic.");
        }

        instances[name] = list;
    }

    private static MeshEndpoint? ReadInstance(string path, string service, JsonElement item, List<string> failures)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            failures.Add($"{path}: not a JSON object.");
            return null;
        }

        var text = item.TryGetProperty("address", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
        var address = EndpointAddress.TryParse(text, out var problem);
        if (address is null)
        {
            failures.Add($"{path}:address: '{text}' {problem} (service '{service}').");
        }

        var weight = 1;
        if (item.TryGetProperty("weight", out var w) && w.ValueKind != JsonValueKind.Null && (!w.TryGetInt32(out weight) || weight < 0))
        {
            failures.Add($"{path}:weight: {w.GetRawText()} is not a whole number of 0 or more (service '{service}').");
        }

        var zone = item.TryGetProperty("zone", out var z) && z.ValueKind == JsonValueKind.String ? z.GetString() : null;
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (item.TryGetProperty("labels", out var l) && l.ValueKind == JsonValueKind.Object)
        {
            foreach (var label in l.EnumerateObject())
            {
                labels[label.Name] = label.Value.ValueKind == JsonValueKind.String ? label.Value.GetString()! : label.Value.GetRawText();
            }
        }

        return address is null || weight < 0 ? null : new MeshEndpoint(address, zone, weight, labels);
    }

    /// <summary>Turns a JSON value into configuration keys as the JSON configuration provider would, leaving out nulls.</summary>
    private static void Flatten(string key, JsonElement value, Dictionary<string, string?> keys)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    Flatten($"{key}:{property.Name}", property.Value, keys);
                }

                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var element in value.EnumerateArray())
                {
                    Flatten($"{key}:{i.ToString(CultureInfo.InvariantCulture)}", element, keys);
                    i++;
                }

                break;
            case JsonValueKind.String:
                keys[key] = value.GetString();
                break;
            case JsonValueKind.True:
            case JsonValueKind.False:
            case JsonValueKind.Number:
                keys[key] = value.GetRawText();
                break;
            default:
                break;
        }
    }
}
