using Microsoft.AspNetCore.Http;

namespace Mesh.AspNetCore.Telemetry;

/// <summary>Times every inbound request and records it once it ends, when its route and status are known.</summary>
internal sealed class MeshServerMetricsMiddleware(RequestDelegate next, MeshServerMetrics metrics, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task InvokeAsync(HttpContext context)
    {
        var started = _time.GetTimestamp();
        var threw = true;
        try
        {
            await next(context).ConfigureAwait(false);
            threw = false;
        }
        finally
        {
            // An exception becomes a 500 only after this middleware: the request failed whatever status it shows now.
            metrics.Record(context, _time.GetElapsedTime(started), threw);
        }
    }
}
