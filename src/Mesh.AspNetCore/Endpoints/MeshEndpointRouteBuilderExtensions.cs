using Mesh.AspNetCore.Endpoints;
using Mesh.AspNetCore.Telemetry;
using Mesh.Configuration;
using Mesh.ControlPlane;
using Mesh.Pipeline;
using Mesh.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the mesh's own HTTP endpoints.</summary>
public static class MeshEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET /mesh/stats</c>: the last minute of this service's traffic as JSON, both ways. <c>outbound</c>: per
    /// destination service called (<c>service</c>, <c>requests</c>, <c>requestsPerSecond</c>, <c>successRate</c>,
    /// <c>p50Ms</c>, <c>p95Ms</c>, <c>p99Ms</c>), with the service's state now: <c>endpoints</c> (each <c>address</c> and
    /// whether it is <c>ejected</c>), <c>breaker</c> (<c>closed</c>, <c>open</c>, <c>half_open</c> or <c>disabled</c>), and
    /// the <c>retries</c> and <c>budgetExhausted</c> counted since the process started. <c>inbound</c> (with
    /// <c>AddMeshServer()</c>): per caller served (<c>caller</c> as the inbound metrics name it, <c>requests</c>,
    /// <c>requestsPerSecond</c>, <c>successRate</c>, <c>p50Ms</c>, <c>p95Ms</c>, <c>p99Ms</c>). Both are ordered by name;
    /// percentiles are the upper bounds of the latency buckets that hold them, as meshd's fleet view adds them up. Maps
    /// <c>GET /mesh/config</c>: per service, every option in force with the
    /// configuration key that sets it (<c>key</c>, <c>value</c>) and where the value came from (<c>source</c>: <c>meshd</c>
    /// for keys pushed by the control plane, <c>appsettings</c> for the application's own configuration, with its
    /// <c>provider</c>, or <c>default</c>), the source it <c>overrides</c> when both set the key, the service's
    /// <c>policyVersion</c> in meshd's snapshot, and the <c>version</c> of the mesh's snapshot and <c>controlPlaneVersion</c>.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <returns>A builder for the endpoints, to add authorization or other conventions.</returns>
    public static IEndpointConventionBuilder MapMeshEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var group = endpoints.MapGroup("/mesh");
        group.MapGet("/stats", (HttpContext context) =>
        {
            var outbound = context.RequestServices.GetRequiredService<MeshStats>().GetCounts();
            var inbound = context.RequestServices.GetService<InboundStats>()?.GetCounts() ?? [];
            var catalog = context.RequestServices.GetRequiredService<ServiceCatalog>();
            var time = context.RequestServices.GetRequiredService<TimeProvider>();
            var now = time.GetTimestamp();
            return Results.Json(new
            {
                outbound = outbound.OrderBy(s => s.Peer, StringComparer.Ordinal).Select(s =>
                {
                    var state = catalog.TryGetService(s.Peer, out var found) ? found : null;
                    var counters = catalog.CountersOf(s.Peer);
                    return new
                    {
                        service = s.Peer,
                        requests = s.Requests,
                        requestsPerSecond = s.RequestsPerSecond,
                        successRate = s.SuccessRate,
                        p50Ms = s.PercentileMs(0.50),
                        p95Ms = s.PercentileMs(0.95),
                        p99Ms = s.PercentileMs(0.99),
                        endpoints = (state?.Destination.Endpoints ?? []).Select(e => new { address = e.Authority, ejected = e.Ejection.IsEjected(now) }),
                        breaker = state?.Policy.BreakerState,
                        retries = counters.Retries,
                        budgetExhausted = counters.BudgetExhausted,
                    };
                }),
                inbound = inbound.OrderBy(s => s.Peer, StringComparer.Ordinal).Select(s => new
                {
                    caller = s.Peer,
                    requests = s.Requests,
                    requestsPerSecond = s.RequestsPerSecond,
                    successRate = s.SuccessRate,
                    p50Ms = s.PercentileMs(0.50),
                    p95Ms = s.PercentileMs(0.95),
                    p99Ms = s.PercentileMs(0.99),
                }),
            });
        });
        group.MapGet("/config", (HttpContext context) => Results.Json(MeshConfigView.Build(
            context.RequestServices.GetRequiredService<ServiceCatalog>(),
            context.RequestServices.GetRequiredService<MeshConfigurationRoot>(),
            context.RequestServices.GetRequiredService<ControlPlaneWatcher>())));
        return group;
    }
}
