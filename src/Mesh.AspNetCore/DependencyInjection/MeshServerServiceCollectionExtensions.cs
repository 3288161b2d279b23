using System.Diagnostics;
using Mesh.AspNetCore.Telemetry;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the inbound side of the mesh in an ASP.NET Core application.</summary>
public static class MeshServerServiceCollectionExtensions
{
    /// <summary>
    /// Adds the mesh's inbound side: golden metrics of every inbound request (<c>mesh.server.request.duration</c> on the
    /// <c>Mesh</c> meter) by caller service (the <c>mesh-caller</c> header meshed clients send), route and status. Traces
    /// continue from the caller's <c>traceparent</c>, including one of a future version as W3C Trace Context asks. Also adds
    /// the outbound mesh (<c>AddMesh()</c>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The same service collection.</returns>
    public static IServiceCollection AddMeshServer(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddMesh();
        services.TryAddSingleton<MeshServerMetrics>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, MeshServerStartupFilter>());

        // Incoming traceparent headers of a future version are continued, as W3C Trace Context asks.
        if (!services.Any(d => d.ServiceType == typeof(DistributedContextPropagator) && d.ImplementationFactory is not null && d.ImplementationFactory.Method.DeclaringType == typeof(MeshServerServiceCollectionExtensions)))
        {
            services.Replace(ServiceDescriptor.Singleton<DistributedContextPropagator>(static _ => new TraceContextPropagator(DistributedContextPropagator.Current)));
        }

        return services;
    }
}
