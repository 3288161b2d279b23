using System.Globalization;
using System.Text.Json.Nodes;
using Meshd.Policies;
using Meshd.Security;
using Meshd.Watch;

namespace Meshd.Api;

/// <summary>
/// Policy documents: read, replace, merge-patch, delete, history and restore (admin token; reads also with the read-only
/// token). <c>?dryRun=true</c> on PUT and PATCH validates the result and answers with the version it would make
/// (<c>dryRun: true</c>), storing nothing.
/// </summary>
internal static class PolicyEndpoints
{
    public static void Map(IEndpointRouteBuilder v1, TokenStore tokens, AuthThrottle throttle)
    {
        var group = v1.MapGroup("/policies").AddEndpointFilter(new TokenFilter(tokens, TokenRole.Admin, throttle, reads: true));
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
        if (CheckRead(service) is { } bad)
        {
            return bad;
        }

        service = RegistryEndpoints.Canonical(service);
        return state.GetPolicy(service) is { Policy: { } policy } record
            ? Results.Ok(new { service, version = record.Version, policy, updatedAt = record.UpdatedAt })
            : Problems.NotFound($"Service '{service}' has no policy.");
    }

    private static async Task<IResult> PutAsync(string service, HttpRequest request, PolicyService policies, MeshdSettings settings)
    {
        if (Check(service) is { } bad)
        {
            return bad;
        }

        if (!TryIfMatch(request, out var ifMatch, out var badIfMatch))
        {
            return badIfMatch!;
        }

        var (body, problem) = await RequestBody.ReadJsonAsync(request, settings.MaxBodyBytes, "application/json").ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        if (body is not JsonObject)
        {
            return Problems.Invalid("$", "A policy is a JSON object, such as { \"LoadBalancer\": \"RoundRobin\" }.");
        }

        if (!TryDryRun(request, out var dryRun, out var badDryRun))
        {
            return badDryRun!;
        }

        var document = PolicyValidator.Canonicalize(body);
        var write = await policies.WriteAsync(service, ifMatch, _ => new PolicyDocument(document), request.HttpContext.RequestAborted, dryRun).ConfigureAwait(false);
        return Answer(request.HttpContext, service, write, dryRun);
    }

    private static async Task<IResult> PatchAsync(string service, HttpRequest request, PolicyService policies, MeshdSettings settings)
    {
        if (Check(service) is { } bad)
        {
            return bad;
        }

        if (!TryIfMatch(request, out var ifMatch, out var badIfMatch))
        {
            return badIfMatch!;
        }

        var (patch, problem) = await RequestBody.ReadJsonAsync(request, settings.MaxBodyBytes, "application/merge-patch+json", "application/json").ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        if (patch is not JsonObject)
        {
            return Problems.Invalid("$", "A merge patch of a policy is a JSON object, such as { \"Hedging\": null }.");
        }

        if (!TryDryRun(request, out var dryRun, out var badDryRun))
        {
            return badDryRun!;
        }

        var canonicalPatch = PolicyValidator.Canonicalize(patch);
        var missing = PolicyWrite.NotFound($"Service '{service}' has no policy to patch: write one with PUT /v1/policies/{service} first.");
        var write = await policies.WriteAsync(
            service,
            ifMatch,
            current => current?.Policy is { } element
                ? new PolicyDocument(JsonMergePatch.Apply(JsonNode.Parse(element.GetRawText()), canonicalPatch), SkipIfUnchanged: true)
                : new PolicyDocument(null, missing),
            request.HttpContext.RequestAborted,
            dryRun).ConfigureAwait(false);
        return Answer(request.HttpContext, service, write, dryRun);
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

        var missing = PolicyWrite.NotFound($"Service '{service}' has no policy.");
        var write = await policies.WriteAsync(
            service,
            ifMatch,
            current => current?.Policy is null ? new PolicyDocument(null, missing) : new PolicyDocument(null),
            request.HttpContext.RequestAborted).ConfigureAwait(false);
        return Answer(request.HttpContext, service, write);
    }

    private static async Task<IResult> HistoryAsync(string service, HttpContext context, PolicyService policies)
    {
        if (CheckRead(service) is { } bad)
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

        if (!TryIfMatch(context.Request, out var ifMatch, out var badIfMatch))
        {
            return badIfMatch!;
        }

        if (!long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1)
        {
            return Problems.Invalid("version", $"'{version}' is not a policy version (1 or more).");
        }

        return Answer(context, service, await policies.RestoreAsync(service, number, ifMatch, context.RequestAborted).ConfigureAwait(false));
    }

    private static IResult Answer(HttpContext context, string service, PolicyWrite write, bool dryRun = false) => write switch
    {
        { Refusal: { } refusal } => Problems.Refused(context, refusal),
        { Record: { } record } when dryRun => Results.Ok(new { service, version = record.Version, policy = record.Policy, updatedAt = record.UpdatedAt, dryRun = true }),
        { Record: { } record } => Results.Ok(new { service, version = record.Version, policy = record.Policy, updatedAt = record.UpdatedAt }),
        { Errors: { } errors } => Problems.Invalid(errors, $"The policy of service '{service}' is invalid; nothing was stored."),
        { CurrentVersion: { } current } => Problems.Status(
            StatusCodes.Status412PreconditionFailed,
            "Precondition failed",
            $"If-Match does not match: the policy of service '{service}' is at version {current}."),
        { Missing: { } missing } => Problems.NotFound(missing),
        _ => throw new InvalidOperationException("A policy write has no outcome."),
    };

    // Writes take the one spelling meshd keeps, so PUT /v1/policies/Back never silently replaces 'back'.
    private static IResult? Check(string service) =>
        Names.CheckCanonicalService(service) is { } bad ? Problems.Invalid("service", bad) : null;

    private static IResult? CheckRead(string service) =>
        Names.CheckService(service) is { } bad ? Problems.Invalid("service", bad) : null;

    private static bool TryDryRun(HttpRequest request, out bool dryRun, out IResult? problem)
    {
        dryRun = false;
        problem = null;
        if (!request.Query.TryGetValue("dryRun", out var values))
        {
            return true;
        }

        if (values.Count == 1 && bool.TryParse(values[0], out dryRun))
        {
            return true;
        }

        problem = Problems.Invalid("dryRun", "dryRun is true or false, given once.");
        return false;
    }

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
