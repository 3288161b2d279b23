using Mesh.AspNetCore.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Mesh.AspNetCore.Telemetry;

/// <summary>
/// Puts the caller's verified identity and the inbound metrics first in the pipeline, so every request has its identity
/// and is measured whatever the app adds.
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
        next(app);
    };
}
