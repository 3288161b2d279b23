using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using Mesh.Configuration;
using Mesh.ControlPlane.Contract;
using Mesh.Discovery;
using Mesh.Identity;

namespace Mesh.ControlPlane;

/// <summary>
/// One snapshot of the control plane (<c>GET /v1/snapshot</c>, the contract's <see cref="SnapshotDocument"/>), read
/// into what the mesh applies: the policy of each service as configuration keys, and its registered instances as
/// endpoints. Immutable.
/// </summary>
internal sealed class ControlPlaneSnapshot
{
    private ControlPlaneSnapshot(long version, FrozenDictionary<string, string?> keys, FrozenDictionary<string, IReadOnlyList<MeshEndpoint>> instances, FrozenDictionary<string, long> policyVersions, TrustBundle? bundle, byte[] body)
    {
        Version = version;
        PolicyVersions = policyVersions;
        Keys = keys;
        Instances = instances;
        Bundle = bundle;
        Body = body;
    }

    /// <summary>Gets a snapshot with no service, in force until the first one arrives.</summary>
    public static ControlPlaneSnapshot Empty { get; } = new(
        0,
        FrozenDictionary<string, string?>.Empty,
        FrozenDictionary<string, IReadOnlyList<MeshEndpoint>>.Empty,
        FrozenDictionary<string, long>.Empty,
        null,
        []);

    /// <summary>Gets the control plane's version of the snapshot.</summary>
    public long Version { get; }

    /// <summary>Gets the policies as configuration keys, <c>Mesh:Services:{name}:{field}</c>.</summary>
    public FrozenDictionary<string, string?> Keys { get; }

    /// <summary>Gets the registered instances of every service the snapshot names, possibly none.</summary>
    public FrozenDictionary<string, IReadOnlyList<MeshEndpoint>> Instances { get; }

    /// <summary>Gets the version of each service's policy, for the services that have one (a version above 0).</summary>
    public FrozenDictionary<string, long> PolicyVersions { get; }

    /// <summary>Gets the roots of the mesh's trust domain, when meshd runs its certificate authority.</summary>
    public TrustBundle? Bundle { get; }

    /// <summary>Gets the bytes the snapshot was read from, as kept in the cache.</summary>
    public byte[] Body { get; }

    /// <summary>Reads the version of a snapshot, whatever else is wrong with it.</summary>
    public static long? ReadVersion(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("version", out var v) && v.TryGetInt64(out var version) ? version : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Reads a snapshot, or says every field that is wrong with it.</summary>
    public static ControlPlaneSnapshot? TryParse(byte[] body, List<string> failures)
    {
        SnapshotDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(body, ControlPlaneJson.Default.SnapshotDocument);
        }
        catch (JsonException ex)
        {
            failures.Add($"snapshot: not a snapshot document ({ex.Message}).");
            return null;
        }

        if (document is null)
        {
            failures.Add("snapshot: not a JSON object.");
            return null;
        }

        if (document.Version < 0)
        {
            failures.Add($"snapshot:version: {document.Version.ToString(CultureInfo.InvariantCulture)} is not a whole number of 0 or more.");
        }

        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var instances = new Dictionary<string, IReadOnlyList<MeshEndpoint>>(StringComparer.OrdinalIgnoreCase);
        var policyVersions = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, service) in document.Services)
        {
            ReadService(name, service, keys, instances, failures);
            if (service is { PolicyVersion: > 0 })
            {
                policyVersions[name] = service.PolicyVersion;
            }
        }

        TrustBundle? bundle = null;
        if (document.TrustBundle is { } trust)
        {
            try
            {
                bundle = TrustBundle.FromPem(trust.TrustDomain, trust.RootsPem, "the control plane's trust bundle");
            }
            catch (Exception ex) when (ex is InvalidDataException or FormatException or ArgumentException or System.Security.Cryptography.CryptographicException)
            {
                failures.Add($"snapshot:trustBundle: {ex.Message}");
            }
        }

        return failures.Count == 0
            ? new ControlPlaneSnapshot(document.Version, keys.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), instances.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), policyVersions.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), bundle, body)
            : null;
    }

    private static void ReadService(string name, ServiceDocument? service, Dictionary<string, string?> keys, Dictionary<string, IReadOnlyList<MeshEndpoint>> instances, List<string> failures)
    {
        var path = $"services:{name}";
        if (!MeshOptionsValidator.IsServiceName(name))
        {
            failures.Add($"{path}: '{name}' is not a valid service name (letters, digits, '-' and '.', as in a host name).");
            return;
        }

        if (service is null)
        {
            failures.Add($"{path}: not a JSON object.");
            return;
        }

        var prefix = $"{MeshOptionsValidator.Section}:Services:{name}";
        if (service.Policy is { ValueKind: not JsonValueKind.Null } policy)
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
        var seen = new HashSet<Uri>();
        var documents = service.Instances ?? [];
        for (var i = 0; i < documents.Count; i++)
        {
            // Two instance ids on one address (a restart before the old lease lapsed) are one endpoint.
            if (ReadInstance($"{path}:instances:{i.ToString(CultureInfo.InvariantCulture)}", name, documents[i], failures) is { } endpoint && seen.Add(endpoint.Address))
            {
                list.Add(endpoint);
            }
        }

        if (list.Count > 0 && list.TrueForAll(e => e.Weight == 0))
        {
            failures.Add($"{path}:instances: every instance of service '{name}' has weight 0, so none could receive traffic.");
        }

        instances[name] = list;
    }

    private static MeshEndpoint? ReadInstance(string path, string service, InstanceDocument? instance, List<string> failures)
    {
        if (instance is null)
        {
            failures.Add($"{path}: not a JSON object.");
            return null;
        }

        var address = EndpointAddress.TryParse(instance.Address, out var problem);
        if (address is null)
        {
            failures.Add($"{path}:address: '{instance.Address}' {problem} (service '{service}').");
        }

        if (instance.Weight < 0)
        {
            failures.Add($"{path}:weight: {instance.Weight.ToString(CultureInfo.InvariantCulture)} is not a whole number of 0 or more (service '{service}').");
        }

        SpiffeId? identity = null;
        if (instance.Identity is { } presented && !SpiffeId.TryParse(presented, out identity, out var identityProblem))
        {
            failures.Add($"{path}:identity: '{presented}' is not a SPIFFE ID (service '{service}'): {identityProblem}.");
        }

        return address is null || instance.Weight < 0 || (instance.Identity is not null && identity is null)
            ? null
            : new MeshEndpoint(address, instance.Zone, instance.Weight, instance.Labels, identity);
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
