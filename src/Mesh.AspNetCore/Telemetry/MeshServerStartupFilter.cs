using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Mesh.AspNetCore.Telemetry;

/// <summary>Puts the inbound metrics first in the pipeline, so every request is measured whatever the app adds.</summary>
internal sealed class MeshServerStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseMiddleware<MeshServerMetricsMiddleware>();
        next(app);
    };
}
