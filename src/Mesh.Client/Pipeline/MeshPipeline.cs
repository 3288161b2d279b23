using Mesh.Resilience;
using Mesh.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Pipeline;

/// <summary>The one place that fixes which handlers a meshed client gets, and in which order.</summary>
internal static class MeshPipeline
{
    /// <summary>The stages that have a handler, outermost first, each with the factory of its handler.</summary>
    internal static readonly (MeshStage Stage, Func<IServiceProvider, DelegatingHandler> Create)[] Stages =
    [
        (MeshStage.Telemetry, sp => ActivatorUtilities.CreateInstance<TelemetryHandler>(sp)),
        (MeshStage.Resilience, sp => ActivatorUtilities.CreateInstance<ResilienceHandler>(sp)),
        (MeshStage.Endpoint, sp => ActivatorUtilities.CreateInstance<EndpointHandler>(sp)),
    ];

    /// <summary>Appends the mesh's handlers, unless the chain has them already (a client meshed twice).</summary>
    public static void AddHandlers(IList<DelegatingHandler> handlers, IServiceProvider services)
    {
        foreach (var handler in handlers)
        {
            if (handler is EndpointHandler)
            {
                return;
            }
        }

        foreach (var (_, create) in Stages)
        {
            handlers.Add(create(services));
        }
    }
}
