using System.Text.Json;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Contract;
using Mesh.Configuration;

namespace Meshd.Registry;

/// <summary>Reads a registration body (the contract's <see cref="RegistrationRequest"/>), naming each bad field.</summary>
internal static class RegistrationParser
{
    private static readonly string[] s_known = [.. ControlPlaneJson.Default.RegistrationRequest.Properties.Select(p => p.Name)];

    public static InstanceDocument? Parse(string instanceId, JsonNode? body, Dictionary<string, string[]> errors)
    {
        if (body is not JsonObject obj)
        {
            errors["$"] = ["A registration is a JSON object: { \"address\": \"http://127.0.0.1:5001\", \"zone\": \"a\", \"labels\": { }, \"weight\": 1 }."];
            return null;
        }

        string? address = null;
        string? zone = null;
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var weight = 1;
        foreach (var (name, value) in obj)
        {
            switch (name.ToUpperInvariant())
            {
                case "ADDRESS":
                    if (value?.GetValueKind() != JsonValueKind.String)
                    {
                        errors["address"] = ["Expected a string such as \"http://127.0.0.1:5001\"."];
                        break;
                    }

                    address = value.GetValue<string>();
                    if (EndpointAddress.TryParse(address, out var problem) is null)
                    {
                        errors["address"] = [$"'{address}' {problem}"];
                    }

                    break;
                case "ZONE":
                    if (value is not null && value.GetValueKind() != JsonValueKind.String)
                    {
                        errors["zone"] = ["Expected a string."];
                        break;
                    }

                    zone = value?.GetValue<string>();
                    if (zone is { Length: > 128 })
                    {
                        errors["zone"] = ["At most 128 characters."];
                    }

                    break;
                case "LABELS":
                    if (value is null)
                    {
                        break;
                    }

                    if (value is not JsonObject labelObject)
                    {
                        errors["labels"] = ["Expected an object of strings, such as { \"version\": \"v1\" }."];
                        break;
                    }

                    foreach (var (label, text) in labelObject)
                    {
                        if (text?.GetValueKind() != JsonValueKind.String)
                        {
                            errors[$"labels:{label}"] = ["Expected a string."];
                            continue;
                        }

                        labels[label] = text.GetValue<string>();
                    }

                    break;
                case "WEIGHT":
                    if (value?.GetValueKind() != JsonValueKind.Number || !value.AsValue().TryGetValue<int>(out weight))
                    {
                        errors["weight"] = ["Expected an integer."];
                        break;
                    }

                    if (weight is < 0 or > 10_000)
                    {
                        errors["weight"] = [$"{weight} is out of range (0 to 10000; 0 drains the instance)."];
                    }

                    break;
                default:
                    errors[name] = [$"'{name}' is not a known field (known: {string.Join(", ", s_known)})."];
                    break;
            }
        }

        if (address is null && !errors.ContainsKey("address"))
        {
            errors["address"] = ["The address is required."];
        }

        return errors.Count == 0 ? new InstanceDocument(instanceId, address!, zone, labels, weight) : null;
    }
}
