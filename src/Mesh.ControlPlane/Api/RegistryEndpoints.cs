using Mesh.ControlPlane.Contract;
using System.Text.Json;
using System.Text.Json.Nodes;
using Meshd.Fleet;
using Meshd.Identity;
using Meshd.Registry;
using Meshd.Security;

namespace Meshd.Api;

/// <summary>
/// PUT, renew and DELETE of instances: the admin token, the shared workload token, or a credential of that service. A
/// renewal may carry the instance's report (<see cref="InstanceReportDocument"/>), kept in memory when the lease is
/// renewed; a report past its bounds is refused with 400 naming the field, and the lease is then not renewed.
/// </summary>
internal static class RegistryEndpoints
{
    public static void Map(IEndpointRouteBuilder v1, TokenStore tokens, AuthThrottle throttle)
    {
        var group = v1.MapGroup("/services/{service}/instances/{instanceId}").AddEndpointFilter(new TokenFilter(tokens, TokenRole.Workload, throttle, forService: true));
        group.MapPut(string.Empty, RegisterAsync);
        group.MapPost("/renew", RenewAsync);
        group.MapDelete(string.Empty, DeregisterAsync);
    }

    private static async Task<IResult> RegisterAsync(string service, string instanceId, HttpRequest request, RegistryService registry, MeshdSettings settings, IdentityService identity)
    {
        if (CheckNames(service, instanceId) is { } bad)
        {
            return bad;
        }

        var (body, problem) = await RequestBody.ReadJsonAsync(request, settings.MaxBodyBytes, "application/json").ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var trustDomain = identity.Enabled ? identity.TrustDomain : null;
        var instance = RegistrationParser.Parse(Canonical(service), instanceId, body, settings.Addresses, request.HttpContext.Connection.RemoteIpAddress, trustDomain, errors);
        if (instance is null)
        {
            return Problems.Invalid(errors);
        }

        var (lease, refusal) = await registry.RegisterAsync(Canonical(service), instance, request.HttpContext.RequestAborted).ConfigureAwait(false);
        return refusal is not null ? Problems.Refused(request.HttpContext, refusal) : Lease(instanceId, registry.LeaseTtl, lease!);
    }

    private static async Task<IResult> RenewAsync(string service, string instanceId, HttpRequest request, RegistryService registry, FleetReports fleet, MeshdSettings settings)
    {
        if (CheckNames(service, instanceId) is { } bad)
        {
            return bad;
        }

        InstanceReportDocument? report = null;
        if (request.ContentLength > 0 || (request.ContentLength is null && request.ContentType is not null))
        {
            var (body, problem) = await RequestBody.ReadJsonAsync(request, settings.MaxBodyBytes, "application/json").ConfigureAwait(false);
            if (problem is not null)
            {
                return problem;
            }

            var (read, errors) = ReadReport(body);
            errors ??= ReportValidator.Check(read!);
            if (errors.Count > 0)
            {
                return Problems.Invalid(errors, "The instance's report was refused and its lease not renewed; renew without a body to keep the lease.");
            }

            report = read;
        }

        var lease = await registry.RenewAsync(Canonical(service), instanceId, request.HttpContext.RequestAborted).ConfigureAwait(false);
        if (lease is null)
        {
            return Problems.NotFound($"Instance '{instanceId}' of service '{service}' is not registered (its lease lapsed?): register it again.");
        }

        if (report is not null)
        {
            fleet.Keep(Canonical(service), instanceId, report);
        }

        return Lease(instanceId, registry.LeaseTtl, lease);
    }

    private static (InstanceReportDocument? Report, Dictionary<string, string[]>? Errors) ReadReport(JsonNode? body)
    {
        if (body is not JsonObject obj)
        {
            return (null, new() { ["$"] = ["A report is a JSON object, such as { \"snapshotVersion\": 12 }."] });
        }

        try
        {
            return (obj.Deserialize(ControlPlaneJson.Default.InstanceReportDocument) ?? throw new JsonException("null"), null);
        }
        catch (JsonException ex)
        {
            var field = ex.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : "$";
            return (null, new() { [field] = [$"Cannot be read: {ex.Message.Split(" Path:")[0]}"] });
        }
    }

    private static async Task<IResult> DeregisterAsync(string service, string instanceId, HttpContext context, RegistryService registry)
    {
        if (CheckNames(service, instanceId) is { } bad)
        {
            return bad;
        }

        await registry.DeregisterAsync(Canonical(service), instanceId, context.RequestAborted).ConfigureAwait(false);
        context.RequestServices.GetRequiredService<FleetReports>().Forget(Canonical(service), instanceId);
        return Results.NoContent();
    }

    // The client matches service names ignoring case, so the store keeps one spelling.
    internal static string Canonical(string service) => service.ToLowerInvariant();

    private static IResult? CheckNames(string service, string instanceId)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (Names.CheckService(service) is { } badService)
        {
            errors["service"] = [badService];
        }

        if (Names.CheckInstance(instanceId) is { } badInstance)
        {
            errors["instanceId"] = [badInstance];
        }

        return errors.Count == 0 ? null : Problems.Invalid(errors);
    }

    private static IResult Lease(string instanceId, TimeSpan ttl, LeaseRecord lease) =>
        Results.Json(new LeaseDocument(instanceId, ttl, lease.ExpiresAt), ControlPlaneJson.Default.LeaseDocument);
}
