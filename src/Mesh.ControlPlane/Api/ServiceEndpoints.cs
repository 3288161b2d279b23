using Mesh.ControlPlane.Contract;
using Meshd.Fleet;
using Meshd.Security;

namespace Meshd.Api;

/// <summary>
/// The services meshd knows, from its registry and its policies (admin token): <c>GET /v1/services</c> and
/// <c>GET /v1/services/{name}</c>, each service with its instances and their leases, the version of its policy, who calls
/// it, and each instance's last report compared with meshd's policies (<see cref="FleetView"/>).
/// </summary>
internal static class ServiceEndpoints
{
    public static void Map(IEndpointRouteBuilder v1, TokenStore tokens, AuthThrottle throttle)
    {
        var group = v1.MapGroup("/services").AddEndpointFilter(new TokenFilter(tokens, TokenRole.Admin, throttle, reads: true));
        group.MapGet(string.Empty, (FleetView fleet) => Results.Json(new ServiceListDocument(fleet.GetServices()), ControlPlaneJson.Default.ServiceListDocument));
        group.MapGet("/{service}", Get);
    }

    private static IResult Get(string service, FleetView fleet)
    {
        if (Names.CheckService(service) is { } bad)
        {
            return Problems.Invalid("service", bad);
        }

        service = RegistryEndpoints.Canonical(service);
        return fleet.GetService(service) is { } found
            ? Results.Json(found, ControlPlaneJson.Default.ServiceStatusDocument)
            : Problems.NotFound($"Service '{service}' is not known to meshd: it has no registered instance and no policy.");
    }
}
