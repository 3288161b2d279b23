using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Contract;
using Mesh.Configuration;
using Mesh.Identity;

namespace Meshd.Registry;

/// <summary>
/// Reads a registration body (the contract's <see cref="RegistrationRequest"/>) strictly, naming each bad field: one
/// spelling per field, no white space around or control characters in any text, bounded labels, and an address the
/// <see cref="AddressRules"/> allow. An identity, when given, is exactly the SPIFFE ID of the service registered, only
/// while meshd's CA runs, and the instance's address is then <c>https</c>.
/// </summary>
internal static class RegistrationParser
{
    public const int MaxLabels = 32;
    public const int MaxLabelName = 63;
    public const int MaxLabelValue = 255;
    public const int MaxZone = 128;

    private static readonly string[] s_known = [.. ControlPlaneJson.Default.RegistrationRequest.Properties.Select(p => p.Name)];

    /// <summary>Reads a registration of <paramref name="instanceId"/> of <paramref name="service"/> (its canonical name).</summary>
    /// <param name="service">The service registered, lower-case.</param>
    /// <param name="instanceId">The instance's id.</param>
    /// <param name="body">The request body.</param>
    /// <param name="rules">Where instances may point.</param>
    /// <param name="caller">The address the registration comes from.</param>
    /// <param name="trustDomain">The CA's trust domain; null while the CA is off, when no identity is taken.</param>
    /// <param name="errors">Receives each bad field with why.</param>
    public static InstanceDocument? Parse(string service, string instanceId, JsonNode? body, AddressRules rules, IPAddress? caller, string? trustDomain, Dictionary<string, string[]> errors)
    {
        if (body is not JsonObject obj)
        {
            errors["$"] = ["A registration is a JSON object: { \"address\": \"http://127.0.0.1:5001\", \"zone\": \"a\", \"labels\": { }, \"weight\": 1 }."];
            return null;
        }

        string? address = null;
        Uri? parsedAddress = null;
        string? identity = null;
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
                    else
                    {
                        parsedAddress = uri;
                    }

                    break;
                case "IDENTITY":
                    if (value is null)
                    {
                        break;
                    }

                    if (value.GetValueKind() != JsonValueKind.String)
                    {
                        errors["identity"] = ["Expected a string such as \"spiffe://mesh.local/svc/inventory\"."];
                        break;
                    }

                    identity = value.GetValue<string>();
                    if (CheckIdentity(identity, service, trustDomain) is { } badIdentity)
                    {
                        errors["identity"] = [badIdentity];
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

        if (identity is not null && parsedAddress is not null && parsedAddress.Scheme != Uri.UriSchemeHttps)
        {
            errors["address"] = [$"'{address}' is not https: an instance that presents an identity serves mutual TLS, so callers reach it at https://."];
        }

        return errors.Count == 0 ? new InstanceDocument(instanceId, address!, zone, labels, weight, identity) : null;
    }

    /// <summary>Why <paramref name="identity"/> may not be registered for <paramref name="service"/>, or null.</summary>
    private static string? CheckIdentity(string identity, string service, string? trustDomain)
    {
        var shown = identity.Length <= 128 ? identity : identity[..128] + "…";
        if (trustDomain is null)
        {
            return $"'{shown}': meshd's certificate authority is off (Meshd:Identity:Enabled), so no instance presents a mesh identity; register without 'identity'.";
        }

        string expected;
        try
        {
            expected = SpiffeId.ForService(trustDomain, service).ToString();
        }
        catch (ArgumentException ex)
        {
            return $"service '{service}' cannot have a SPIFFE ID: {ex.Message}";
        }

        return string.Equals(identity, expected, StringComparison.Ordinal)
            ? null
            : $"'{shown}' is not the identity of service '{service}': its instances present exactly '{expected}'.";
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
