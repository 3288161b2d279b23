using Microsoft.AspNetCore.Http;

namespace Mesh.AspNetCore.Telemetry;

/// <summary>Times every inbound request and records it once it ends, when its route and status are known.</summary>
internal sealed class MeshServerMetricsMiddleware(RequestDelegate next, MeshServerMetrics metrics, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task InvokeAsync(HttpContext context)
    {
        var started = _time.GetTimestamp();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            metrics.Record(context, _time.GetElapsedTime(started));
        }
    }
}
