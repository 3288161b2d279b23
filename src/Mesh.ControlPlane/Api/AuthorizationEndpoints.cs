using System.Text.Json;
using System.Text.Json.Nodes;
using Mesh;
using Mesh.Authorization;
using Mesh.Configuration;
using Mesh.Identity;
using Meshd.Policies;
using Meshd.Security;
using Meshd.Watch;

namespace Meshd.Api;

/// <summary>
/// <c>POST /v1/authorization/check</c> (admin or read-only token): would a caller be allowed a method and path on a service, and by which
/// rule, under the service's stored policy, decided by the same evaluator the service's server enforces.
/// </summary>
internal static class AuthorizationEndpoints
{
    private const int MaxPathLength = 8192;
    private static readonly string[] s_fields = ["service", "caller", "method", "path", "meshDefault"];

    public static void Map(IEndpointRouteBuilder v1, TokenStore tokens, AuthThrottle throttle) =>
        v1.MapPost("/authorization/check", CheckAsync).AddEndpointFilter(new TokenFilter(tokens, TokenRole.Admin, throttle, reads: true, readingPost: true));

    private static async Task<IResult> CheckAsync(HttpRequest request, MeshState state, MeshdSettings settings)
    {
        var (body, problem) = await RequestBody.ReadJsonAsync(request, settings.MaxBodyBytes, "application/json").ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        if (body is not JsonObject question)
        {
            return Problems.Invalid("$", "A check is a JSON object such as { \"service\": \"payments\", \"caller\": \"orders\", \"method\": \"POST\", \"path\": \"/charges\" }.");
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var (name, _) in question)
        {
            if (!s_fields.Contains(name, StringComparer.Ordinal))
            {
                errors[name] = [$"'{name}' is not a field of a check (known: {string.Join(", ", s_fields)})."];
            }
        }

        var service = Text(question, "service", errors, required: true);
        var caller = Text(question, "caller", errors, required: true);
        var method = Text(question, "method", errors, required: true);
        var path = Text(question, "path", errors, required: true);
        var meshDefault = Text(question, "meshDefault", errors, required: false) ?? AuthorizationDefaultNames.Allow;
        if (service is not null && Names.CheckService(service) is { } badService)
        {
            errors["service"] = [badService];
        }

        SpiffeId? id = null;
        var trustDomain = settings.Identity.Authority.TrustDomain;
        if (caller is not null && caller != AuthorizationPrincipalNames.Unauthenticated)
        {
            if (caller == AuthorizationPrincipalNames.AnyAuthenticated || AuthorizationOptionsValidator.CheckPrincipal(caller) is not null)
            {
                errors["caller"] = [$"'{Shorten(caller)}' is not a caller: a service name, a SPIFFE ID or 'unauthenticated'."];
            }
            else
            {
                id = caller.StartsWith("spiffe://", StringComparison.OrdinalIgnoreCase) ? SpiffeId.Parse(caller) : SpiffeId.ForService(trustDomain, caller);
            }
        }

        if (method is not null && AuthorizationOptionsValidator.CheckMethod(method) is { } badMethod)
        {
            errors["method"] = [$"'{Shorten(method)}' {badMethod}."];
        }

        if (path is not null && (path.Length is 0 or > MaxPathLength || path[0] != '/' || path.Any(char.IsControl)))
        {
            errors["path"] = [$"A path starts with '/', has at most {MaxPathLength} characters and no control character; give it as the server's routing sees it (decoded, without query or fragment)."];
        }

        if (!AuthorizationDefaultNames.IsKnown(meshDefault))
        {
            errors["meshDefault"] = [$"'{Shorten(meshDefault)}' is not an authorization default (known: {string.Join(", ", AuthorizationDefaultNames.All)})."];
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The check is invalid.");
        }

        service = RegistryEndpoints.Canonical(service!);
        var record = state.GetPolicy(service);
        var options = new MeshOptions { Authorization = { Default = meshDefault } };
        if (record?.Policy is { } stored)
        {
            // The stored document passed the one validator when it was written; it is read back exactly as a server binds it.
            var settingsOf = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            PolicyValidator.Flatten(JsonNode.Parse(stored.GetRawText()), $"{MeshOptionsValidator.Section}:Services:{service}", settingsOf);
            new MeshConfigurationBinder(new ConfigurationBuilder().AddInMemoryCollection(settingsOf).Build()).Configure(options);
        }

        var own = options.Services.TryGetValue(service, out var found) ? found.Authorization : null;
        var decision = AuthorizationPolicy.Create(own, options.Authorization, trustDomain).Evaluate(id, method!, path!);
        return Results.Ok(new
        {
            service,
            caller = id?.ToString() ?? AuthorizationPrincipalNames.Unauthenticated,
            method,
            path,
            allowed = decision.IsAllowed,
            decision = decision.Name,
            rule = decision.Rule,
            policyVersion = record?.Policy is null ? (long?)null : record.Version,
        });
    }

    private static string? Text(JsonObject question, string name, Dictionary<string, string[]> errors, bool required)
    {
        if (!question.TryGetPropertyValue(name, out var node) || node is null)
        {
            if (required)
            {
                errors[name] = [$"'{name}' is required."];
            }

            return null;
        }

        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            return value.GetValue<string>();
        }

        errors[name] = [$"'{name}' must be a string."];
        return null;
    }

    private static string Shorten(string value) => value.Length <= 100 ? value : string.Concat(value.AsSpan(0, 100), "…");
}
