using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Pipeline;

/// <summary>
/// The one place that puts the mesh into a client's handler chain: one <see cref="MeshHandler"/>, in which the layers
/// run in their one order — logical (telemetry, routing, rate limit, total timeout, retry or hedging, breaker), concrete
/// (endpoint set and pick, failover), endpoint (rewrite, attempt timeout, outcome, attempt span).
/// </summary>
internal static class MeshPipeline
{
    /// <summary>Appends the mesh's handler, unless the chain has it already (a client meshed twice).</summary>
    public static void AddHandlers(IList<DelegatingHandler> handlers, IServiceProvider services)
    {
        foreach (var handler in handlers)
        {
            if (handler is MeshHandler)
            {
                return;
            }
        }

        handlers.Add(ActivatorUtilities.CreateInstance<MeshHandler>(services));
    }
}
