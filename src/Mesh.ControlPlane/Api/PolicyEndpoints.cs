using System.Globalization;
using System.Text.Json.Nodes;
using Meshd.Policies;
using Meshd.Security;
using Meshd.Watch;

namespace Meshd.Api;

/// <summary>Policy documents: read, replace, merge-patch, delete, history and restore (admin token).</summary>
internal static class PolicyEndpoints
{
    public static void Map(IEndpointRouteBuilder v1, TokenStore tokens)
    {
        var group = v1.MapGroup("/policies").AddEndpointFilter(new TokenFilter(tokens, TokenRole.Admin));
        group.MapGet(string.Empty, (MeshState state) => Results.Ok(state.GetPolicies().ToDictionary(
            p => p.Key,
            p => new { version = p.Value.Version, policy = p.Value.Policy },
            StringComparer.Ordinal)));
        group.MapGet("/{service}", Get);
        group.MapPut("/{service}", PutAsync);
        group.MapPatch("/{service}", PatchAsync);
        group.MapDelete("/{service}", DeleteAsync);
        group.MapGet("/{service}/history", HistoryAsync);
        group.MapPost("/{service}/restore/{version}", RestoreAsync);
    }

    private static IResult Get(string service, MeshState state)
    {
        if (Check(service) is { } bad)
        {
            return bad;
        }

        service = RegistryEndpoints.Canonical(service);
        return state.GetPolicy(service) is { Policy: { } policy } record
            ? Results.Ok(new { service, version = record.Version, policy, updatedAt = record.UpdatedAt })
            : Problems.NotFound($"Service '{service}' has no policy.");
    }

    private static async Task<IResult> PutAsync(string service, HttpRequest request, PolicyService policies)
    {
        if (Check(service) is { } bad)
        {
            return bad;
        }

        if (!TryIfMatch(request, out var ifMatch, out var badIfMatch))
        {
            return badIfMatch!;
        }

        var (body, problem) = await RequestBody.ReadJsonAsync(request, "application/json").ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        if (body is not JsonObject)
        {
            return Problems.Invalid("$", "A policy is a JSON object, such as { \"LoadBalancer\": \"RoundRobin\" }.");
        }

        service = RegistryEndpoints.Canonical(service);
        var write = await policies.WriteAsync(service, ifMatch, _ => new PolicyDocument(body), request.HttpContext.RequestAborted).ConfigureAwait(false);
        return Answer(service, write);
    }

    private static async Task<IResult> PatchAsync(string service, HttpRequest request, PolicyService policies)
    {
        if (Check(service) is { } bad)
        {
            return bad;
        }

        if (!TryIfMatch(request, out var ifMatch, out var badIfMatch))
        {
            return badIfMatch!;
        }

        var (patch, problem) = await RequestBody.ReadJsonAsync(request, "application/merge-patch+json", "application/json").ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        if (patch is not JsonObject)
        {
            return Problems.Invalid("$", "A merge patch of a policy is a JSON object, such as { \"Hedging\": null }.");
        }

        service = RegistryEndpoints.Canonical(service);
        var write = await policies.WriteAsync(
            service,
            ifMatch,
            current =>
            {
                JsonNode? document = current?.Policy is { } element ? JsonNode.Parse(element.GetRawText()) : new JsonObject();
                return new PolicyDocument(JsonMergePatch.Apply(document, patch));
            },
            request.HttpContext.RequestAborted).ConfigureAwait(false);
        return Answer(service, write);
    }

    private static async Task<IResult> DeleteAsync(string service, HttpRequest request, PolicyService policies)
    {
        if (Check(service) is { } bad)
        {
            return bad;
        }

        if (!TryIfMatch(request, out var ifMatch, out var badIfMatch))
        {
            return badIfMatch!;
        }

        service = RegistryEndpoints.Canonical(service);
        var missing = PolicyWrite.NotFound($"Service '{service}' has no policy.");
        var write = await policies.WriteAsync(
            service,
            ifMatch,
            current => current?.Policy is null ? new PolicyDocument(null, missing) : new PolicyDocument(null),
            request.HttpContext.RequestAborted).ConfigureAwait(false);
        return Answer(service, write);
    }

    private static async Task<IResult> HistoryAsync(string service, HttpContext context, PolicyService policies)
    {
        if (Check(service) is { } bad)
        {
            return bad;
        }

        service = RegistryEndpoints.Canonical(service);
        var history = await policies.HistoryAsync(service, context.RequestAborted).ConfigureAwait(false);
        return history.Count == 0
            ? Problems.NotFound($"Service '{service}' has no policy history.")
            : Results.Ok(history.Select(r => new { version = r.Version, policy = r.Policy, updatedAt = r.UpdatedAt }));
    }

    private static async Task<IResult> RestoreAsync(string service, string version, HttpContext context, PolicyService policies)
    {
        if (Check(service) is { } bad)
        {
            return bad;
        }

        if (!long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1)
        {
            return Problems.Invalid("version", $"'{version}' is not a policy version (1 or more).");
        }

        service = RegistryEndpoints.Canonical(service);
        return Answer(service, await policies.RestoreAsync(service, number, context.RequestAborted).ConfigureAwait(false));
    }

    private static IResult Answer(string service, PolicyWrite write) => write switch
    {
        { Record: { } record } => Results.Ok(new { service, version = record.Version, policy = record.Policy, updatedAt = record.UpdatedAt }),
        { Errors: { } errors } => Problems.Invalid(errors, $"The policy of service '{service}' is invalid; nothing was stored."),
        { CurrentVersion: { } current } => Problems.Status(
            StatusCodes.Status412PreconditionFailed,
            "Precondition failed",
            $"If-Match does not match: the policy of service '{service}' is at version {current}."),
        { Missing: { } missing } => Problems.NotFound(missing),
        _ => throw new InvalidOperationException("A policy write has no outcome."),
    };

    private static IResult? Check(string service) =>
        Names.CheckService(service) is { } bad ? Problems.Invalid("service", bad) : null;

    private static bool TryIfMatch(HttpRequest request, out long? version, out IResult? problem)
    {
        version = null;
        problem = null;
        var header = request.Headers.IfMatch.ToString();
        if (string.IsNullOrEmpty(header))
        {
            return true;
        }

        var text = header.Trim();
        if (text.StartsWith("W/", StringComparison.Ordinal))
        {
            text = text[2..];
        }

        text = text.Trim('"');
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
        {
            problem = Problems.Invalid("If-Match", $"'{header}' is not a policy version such as \"3\".");
            return false;
        }

        version = parsed;
        return true;
    }
}
