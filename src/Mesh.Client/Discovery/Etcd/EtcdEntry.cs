using System.Text.Json;
using Mesh.Configuration;

namespace Mesh.Discovery.Etcd;

/// <summary>
/// Reads one instance key and its value: <c>{prefix}/{service}/{instance}</c> →
/// <c>{"address":"http://10.0.0.5:8080","zone":"a","weight":1,"labels":{"version":"v2"}}</c>. Everything is bounded and
/// checked; an entry that fails is skipped with the reason, which never repeats the value.
/// </summary>
internal static class EtcdEntry
{
    public const int MaxKey = 512;
    public const int MaxValue = 4096;
    public const int MaxLabels = 32;
    public const int MaxLabelKey = 63;
    public const int MaxLabelValue = 256;
    public const int MaxWeight = 65535;

    /// <summary>Splits a key under <paramref name="prefix"/> (which ends with '/') into service and instance.</summary>
    public static bool TryParseKey(string key, string prefix, out string service, out string? problem)
    {
        service = string.Empty;
        var rest = key.AsSpan(prefix.Length);
        var slash = rest.IndexOf('/');
        if (key.Length > MaxKey)
        {
            problem = $"the key is {key.Length} characters long, more than {MaxKey}";
            return false;
        }

        if (slash <= 0 || slash == rest.Length - 1 || rest[(slash + 1)..].Contains('/'))
        {
            problem = "the key is not {prefix}/{service}/{instance}";
            return false;
        }

        service = rest[..slash].ToString();
        if (!MeshOptionsValidator.IsServiceName(service))
        {
            problem = "the service segment is not a valid service name";
            return false;
        }

        problem = null;
        return true;
    }

    /// <summary>Reads an endpoint value; <see langword="null"/> with <paramref name="problem"/> when it is not one.</summary>
    public static MeshEndpoint? TryParseValue(ReadOnlySpan<byte> value, out string? problem)
    {
        if (value.Length > MaxValue)
        {
            problem = $"the value is {value.Length} bytes long, more than {MaxValue}";
            return null;
        }

        try
        {
            var reader = new Utf8JsonReader(value, new JsonReaderOptions { MaxDepth = 4 });
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = "the value is not a JSON object";
                return null;
            }

            if (!root.TryGetProperty("address", out var addressElement) || addressElement.ValueKind != JsonValueKind.String)
            {
                problem = "the value has no \"address\" string";
                return null;
            }

            var address = EndpointAddress.TryParse(addressElement.GetString(), out var addressProblem);
            if (address is null)
            {
                problem = $"\"address\" {addressProblem}";
                return null;
            }

            string? zone = null;
            if (root.TryGetProperty("zone", out var zoneElement) && zoneElement.ValueKind != JsonValueKind.Null)
            {
                zone = zoneElement.ValueKind == JsonValueKind.String ? zoneElement.GetString() : null;
                if (zone is null || zone.Length is 0 or > MeshOptionsValidator.MaxZone || zone.Any(char.IsControl))
                {
                    problem = $"\"zone\" is not a string of 1 to {MeshOptionsValidator.MaxZone} printable characters";
                    return null;
                }
            }

            var weight = 1;
            if (root.TryGetProperty("weight", out var weightElement) && weightElement.ValueKind != JsonValueKind.Null
                && (!weightElement.TryGetInt32(out weight) || weight is < 0 or > MaxWeight))
            {
                problem = $"\"weight\" is not an integer from 0 to {MaxWeight}";
                return null;
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("labels", out var labelsElement) && labelsElement.ValueKind != JsonValueKind.Null)
            {
                if (labelsElement.ValueKind != JsonValueKind.Object)
                {
                    problem = "\"labels\" is not an object";
                    return null;
                }

                foreach (var label in labelsElement.EnumerateObject())
                {
                    if (labels.Count == MaxLabels)
                    {
                        problem = $"\"labels\" has more than {MaxLabels} entries";
                        return null;
                    }

                    var text = label.Value.ValueKind == JsonValueKind.String ? label.Value.GetString() : null;
                    if (label.Name.Length is 0 or > MaxLabelKey || label.Name.Any(char.IsControl) || text is null || text.Length > MaxLabelValue || text.Any(char.IsControl))
                    {
                        problem = $"a label is not a name of 1 to {MaxLabelKey} and a string value of at most {MaxLabelValue} printable characters";
                        return null;
                    }

                    labels[label.Name] = text;
                }
            }

            problem = null;
            return new MeshEndpoint(address, zone, weight, labels);
        }
        catch (JsonException)
        {
            problem = "the value is not JSON";
            return null;
        }
    }
}
