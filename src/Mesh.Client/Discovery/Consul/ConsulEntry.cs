using System.Text.Json;
using Mesh.Configuration;

namespace Mesh.Discovery.Consul;

/// <summary>
/// Reads one entry of Consul's health endpoint, <c>{Node:{Node,Address}, Service:{ID,Service,Tags,Address,Port,Meta,
/// Weights:{Passing}}, Checks:[...]}</c>, into an endpoint: <c>Service.Address</c> (or <c>Node.Address</c> when empty)
/// and <c>Service.Port</c>; each tag a label (<c>k=v</c> split at the first '=', any other tag <c>tag=true</c>), each
/// meta entry a label (over a tag of the same name); the zone from meta <c>zone</c>; the weight from
/// <c>Weights.Passing</c>. Everything is bounded; an entry that fails is skipped with the reason, never its values.
/// </summary>
internal static class ConsulEntry
{
    public const int MaxEntries = 1024;
    public const int MaxBodyBytes = 8 * 1024 * 1024;
    public const int MaxLabels = 64;
    public const int MaxLabelKey = 63;
    public const int MaxLabelValue = 256;
    public const int MaxWeight = 65535;
    public const int MaxHost = 253;

    /// <summary>Reads an entry; <see langword="null"/> with <paramref name="problem"/> when it makes no endpoint.</summary>
    public static MeshEndpoint? TryParse(JsonElement entry, string scheme, out string id, out string? problem)
    {
        id = string.Empty;
        if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("Service", out var service) || service.ValueKind != JsonValueKind.Object)
        {
            problem = "the entry has no \"Service\" object";
            return null;
        }

        id = Text(service, "ID") is { Length: > 0 and <= 128 } i && !i.Any(char.IsControl) ? i : "?";
        var host = Text(service, "Address");
        if (string.IsNullOrEmpty(host) && entry.TryGetProperty("Node", out var node) && node.ValueKind == JsonValueKind.Object)
        {
            host = Text(node, "Address");
        }

        if (string.IsNullOrEmpty(host) || host.Length > MaxHost || Uri.CheckHostName(host) is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6))
        {
            problem = "neither Service.Address nor Node.Address is a host name or an IP address";
            return null;
        }

        if (!service.TryGetProperty("Port", out var portElement) || !portElement.TryGetInt32(out var port) || port is < 1 or > 65535)
        {
            problem = "Service.Port is not a port from 1 to 65535";
            return null;
        }

        var weight = 1;
        if (service.TryGetProperty("Weights", out var weights) && weights.ValueKind == JsonValueKind.Object
            && weights.TryGetProperty("Passing", out var passing) && passing.ValueKind != JsonValueKind.Null
            && (!passing.TryGetInt32(out weight) || weight is < 0 or > MaxWeight))
        {
            problem = $"Service.Weights.Passing is not an integer from 0 to {MaxWeight}";
            return null;
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (service.TryGetProperty("Tags", out var tags) && tags.ValueKind != JsonValueKind.Null)
        {
            if (tags.ValueKind != JsonValueKind.Array)
            {
                problem = "Service.Tags is not an array";
                return null;
            }

            foreach (var tag in tags.EnumerateArray())
            {
                var text = tag.ValueKind == JsonValueKind.String ? tag.GetString() : null;
                if (text is null || text.Length is 0 or > MaxLabelKey + 1 + MaxLabelValue)
                {
                    problem = "a tag is not a string of 1 to 320 characters";
                    return null;
                }

                var equals = text.IndexOf('=', StringComparison.Ordinal);
                var (key, value) = equals > 0 ? (text[..equals], text[(equals + 1)..]) : (text, "true");
                if (!Add(labels, key, value, out problem))
                {
                    return null;
                }
            }
        }

        string? zone = null;
        if (service.TryGetProperty("Meta", out var meta) && meta.ValueKind != JsonValueKind.Null)
        {
            if (meta.ValueKind != JsonValueKind.Object)
            {
                problem = "Service.Meta is not an object";
                return null;
            }

            foreach (var pair in meta.EnumerateObject())
            {
                var text = pair.Value.ValueKind == JsonValueKind.String ? pair.Value.GetString() : null;
                if (text is null)
                {
                    problem = "a Service.Meta value is not a string";
                    return null;
                }

                if (!Add(labels, pair.Name, text, out problem))
                {
                    return null;
                }

                if (pair.NameEquals("zone"))
                {
                    if (text.Length is 0 or > MeshOptionsValidator.MaxZone)
                    {
                        problem = $"Service.Meta.zone is not 1 to {MeshOptionsValidator.MaxZone} characters";
                        return null;
                    }

                    zone = text;
                }
            }
        }

        var address = new UriBuilder(scheme, host, port).Uri;
        if (EndpointAddress.Check(address) is { } bad)
        {
            problem = $"the address {bad}";
            return null;
        }

        problem = null;
        return new MeshEndpoint(address, zone, weight, labels);
    }

    private static bool Add(Dictionary<string, string> labels, string key, string value, out string? problem)
    {
        if (key.Length is 0 or > MaxLabelKey || key.Any(char.IsControl) || value.Length > MaxLabelValue || value.Any(char.IsControl))
        {
            problem = $"a tag or meta entry is not a name of 1 to {MaxLabelKey} and a value of at most {MaxLabelValue} printable characters";
            return false;
        }

        labels[key] = value;
        if (labels.Count > MaxLabels)
        {
            problem = $"the tags and meta make more than {MaxLabels} labels";
            return false;
        }

        problem = null;
        return true;
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
