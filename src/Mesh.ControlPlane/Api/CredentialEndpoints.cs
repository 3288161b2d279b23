using Mesh.ControlPlane.Contract;
using Meshd.Security;

namespace Meshd.Api;

/// <summary>
/// Per-service workload credentials (admin token only): create one bound to a service (its token is in that answer
/// and never again), list them without tokens, revoke one.
/// </summary>
internal static class CredentialEndpoints
{
    public static void Map(IEndpointRouteBuilder v1, TokenStore tokens, AuthThrottle throttle)
    {
        var group = v1.MapGroup("/credentials").AddEndpointFilter(new TokenFilter(tokens, TokenRole.Admin, throttle));
        group.MapPost(string.Empty, CreateAsync);
        group.MapGet(string.Empty, List);
        group.MapDelete("/{id}", RevokeAsync);
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, ServiceCredentials credentials, MeshdSettings settings)
    {
        var (body, problem) = await RequestBody.ReadJsonAsync(request, settings.MaxBodyBytes, "application/json").ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var asked = ContractBody.Read(body, ControlPlaneJson.Default.CredentialRequest, "{ \"service\": \"orders\" }", errors, (_, service) => Names.CheckService(service));
        if (asked is null)
        {
            return Problems.Invalid(errors, "The credential request is invalid; nothing was stored.");
        }

        var (record, token, refusal) = await credentials.CreateAsync(RegistryEndpoints.Canonical(asked.Service), request.HttpContext.RequestAborted).ConfigureAwait(false);
        if (refusal is not null)
        {
            return Problems.Refused(request.HttpContext, refusal);
        }

        // The one answer that holds the token: no cache may keep it.
        request.HttpContext.Response.Headers.CacheControl = "no-store";
        request.HttpContext.Response.Headers.Location = $"/v1/credentials/{record!.Id}";
        return Results.Json(new CredentialDocument(record.Id, record.Service, record.CreatedAt, token), ControlPlaneJson.Default.CredentialDocument, statusCode: StatusCodes.Status201Created);
    }

    private static IResult List(ServiceCredentials credentials) =>
        Results.Json(credentials.List().Select(r => new CredentialDocument(r.Id, r.Service, r.CreatedAt)).ToList(), ControlPlaneJson.Default.IReadOnlyListCredentialDocument);

    private static async Task<IResult> RevokeAsync(string id, HttpContext context, ServiceCredentials credentials)
    {
        if (!ServiceCredentials.IsId(id))
        {
            return Problems.Invalid("id", $"'{(id.Length <= 64 ? id : id[..64] + "…")}' is not a credential id (16 lower-case hexadecimal digits).");
        }

        return await credentials.RevokeAsync(id, context.RequestAborted).ConfigureAwait(false)
            ? Results.NoContent()
            : Problems.NotFound($"There is no credential '{id}' (revoked already?).");
    }
}
