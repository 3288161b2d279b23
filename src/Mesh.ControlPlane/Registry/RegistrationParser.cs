using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Contract;
using Mesh.Configuration;

namespace Meshd.Registry;

/// <summary>
/// Reads a registration body (the contract's <see cref="RegistrationRequest"/>) strictly, naming each bad field: one
/// spelling per field, no white space around or control characters in any text, bounded labels, and an address the
/// <see cref="AddressRules"/> allow.
/// </summary>
internal static class RegistrationParser
{
    public const int MaxLabels = 32;
    public const int MaxLabelName = 63;
    public const int MaxLabelValue = 255;
    public const int MaxZone = 128;

    private static readonly string[] s_known = [.. ControlPlaneJson.Default.RegistrationRequest.Properties.Select(p => p.Name)];

    public static InstanceDocument? Parse(string instanceId, JsonNode? body, Dictionary<string, string[]> errors) =>
        Parse(instanceId, body, AddressRules.Default, null, errors);

    public static InstanceDocument? Parse(string instanceId, JsonNode? body, AddressRules rules, IPAddress? caller, Dictionary<string, string[]> errors)
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
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in obj)
        {
            if (seen.TryGetValue(name, out var first))
            {
                errors[name] = [$"'{first}' and '{name}' name the same field; send it once."];
                continue;
            }

            seen[name] = name;
            switch (name.ToUpperInvariant())
            {
                case "ADDRESS":
                    if (value?.GetValueKind() != JsonValueKind.String)
                    {
                        errors["address"] = ["Expected a string such as \"http://127.0.0.1:5001\"."];
                        break;
                    }

                    address = value.GetValue<string>();
                    if (Names.TextProblem(address) is { } badText)
                    {
                        errors["address"] = [$"'{address}' {badText}"];
                    }
                    else if (EndpointAddress.TryParse(address, out var problem) is not { } uri)
                    {
                        errors["address"] = [$"'{address}' {problem}"];
                    }
                    else if (rules.Check(uri, caller) is { } refused)
                    {
                        errors["address"] = [$"'{address}' {refused}"];
                    }

                    break;
                case "ZONE":
                    if (value is not null && value.GetValueKind() != JsonValueKind.String)
                    {
                        errors["zone"] = ["Expected a string."];
                        break;
                    }

                    zone = value?.GetValue<string>();
                    if (zone is { Length: > MaxZone })
                    {
                        errors["zone"] = [$"At most {MaxZone} characters."];
                    }
                    else if (zone is not null && Names.TextProblem(zone) is { } badZone)
                    {
                        errors["zone"] = [$"'{zone}' {badZone}"];
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

                    if (labelObject.Count > MaxLabels)
                    {
                        errors["labels"] = [$"{labelObject.Count} labels; at most {MaxLabels}."];
                        break;
                    }

                    ReadLabels(labelObject, labels, errors);
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

    private static void ReadLabels(JsonObject labelObject, SortedDictionary<string, string> labels, Dictionary<string, string[]> errors)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (label, text) in labelObject)
        {
            var field = $"labels:{label}";
            if (label.Length is 0 or > MaxLabelName || !label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/'))
            {
                errors[field] = [$"'{label}' is not a label name (1 to {MaxLabelName} letters, digits, '-', '_', '.' or '/')."];
                continue;
            }

            if (!seen.Add(label))
            {
                errors[field] = [$"'{label}' differs from another label only in case, which configuration cannot tell apart; keep one."];
                continue;
            }

            if (text?.GetValueKind() != JsonValueKind.String)
            {
                errors[field] = ["Expected a string."];
                continue;
            }

            var labelValue = text.GetValue<string>();
            if (labelValue.Length > MaxLabelValue)
            {
                errors[field] = [$"At most {MaxLabelValue} characters."];
            }
            else if (Names.TextProblem(labelValue) is { } bad)
            {
                errors[field] = [$"'{labelValue}' {bad}"];
            }
            else
            {
                labels[label] = labelValue;
            }
        }
    }
}
