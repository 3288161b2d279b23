using Mesh.AspNetCore.Authorization;
using Mesh.AspNetCore.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Mesh.AspNetCore.Telemetry;

/// <summary>
/// Puts the caller's verified identity, the inbound metrics and authorization first in the pipeline, so every request has
/// its identity, is measured and is decided whatever the app adds.
/// </summary>
internal sealed class MeshServerStartupFilter(ServerIdentity identity) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        if (identity.IsEnabled)
        {
            app.UseMiddleware<MeshCallerMiddleware>();
        }

        app.UseMiddleware<MeshServerMetricsMiddleware>();

        // After the metrics, so refusals are measured; before everything the application adds, routing included.
        app.UseMiddleware<MeshAuthorizationMiddleware>();
        next(app);
    };
}
