using Mesh.ControlPlane.Contract;
using Meshd.Fleet;
using Meshd.Security;

namespace Meshd.Api;

/// <summary>
/// <c>GET /v1/fleet/stats</c> (admin token): the fleet's golden metrics over the last minute, per service and per
/// caller → service edge, added up from the reports instances send with their lease renewals.
/// </summary>
internal static class FleetEndpoints
{
    public static void Map(IEndpointRouteBuilder v1, TokenStore tokens, AuthThrottle throttle) =>
        v1.MapGet("/fleet/stats", (FleetView fleet) => Results.Json(fleet.GetStats(), ControlPlaneJson.Default.FleetStatsDocument))
            .AddEndpointFilter(new TokenFilter(tokens, TokenRole.Admin, throttle, reads: true));
}
