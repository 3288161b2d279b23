using Mesh.ControlPlane.Contract;
using Meshd.Security;
using Meshd.Watch;

namespace Meshd.Api;

/// <summary>
/// The services meshd knows, from its registry and its policies (admin token): <c>GET /v1/services</c> and
/// <c>GET /v1/services/{name}</c>, each service with its instances and their leases and the version of its policy.
/// </summary>
internal static class ServiceEndpoints
{
    public static void Map(IEndpointRouteBuilder v1, TokenStore tokens, AuthThrottle throttle)
    {
        var group = v1.MapGroup("/services").AddEndpointFilter(new TokenFilter(tokens, TokenRole.Admin, throttle));
        group.MapGet(string.Empty, (MeshState state) => Results.Json(new ServiceListDocument(state.GetServices()), ControlPlaneJson.Default.ServiceListDocument));
        group.MapGet("/{service}", Get);
    }

    private static IResult Get(string service, MeshState state)
    {
        if (Names.CheckService(service) is { } bad)
        {
            return Problems.Invalid("service", bad);
        }

        service = RegistryEndpoints.Canonical(service);
        return state.GetService(service) is { } found
            ? Results.Json(found, ControlPlaneJson.Default.ServiceStatusDocument)
            : Problems.NotFound($"Service '{service}' is not known to meshd: it has no registered instance and no policy.");
    }
}
