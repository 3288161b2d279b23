using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mesh.Resilience;
using Mesh.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Mesh.AspNetCore.Telemetry;

/// <summary>Inbound golden metrics on the <c>Mesh</c> meter: request count and duration by caller service, route and status.</summary>
internal sealed class MeshServerMetrics
{
    /// <summary>The caller recorded for requests that carry no <c>mesh-caller</c> header.</summary>
    internal const string UnknownCaller = "unknown";

    private readonly Meter _meter;

    public MeshServerMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeshTelemetry.Name);
        RequestDuration = _meter.CreateHistogram(
            "mesh.server.request.duration", "s", "Duration of inbound requests, by caller service, route and status.", advice: MeshMetrics.LatencyBuckets);
    }

    public Histogram<double> RequestDuration { get; }

    public void Record(HttpContext context, TimeSpan elapsed)
    {
        var caller = context.Request.Headers[MeshHeaders.Caller].ToString();
        var tags = new TagList
        {
            { MeshTags.Caller, caller.Length == 0 ? UnknownCaller : caller },
            { MeshTags.Method, context.Request.Method },
            { MeshTags.StatusCode, BoxedStatusCodes.Boxed(context.Response.StatusCode) },
        };
        if (context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } route })
        {
            tags.Add(MeshTags.Route, route);
        }

        RequestDuration.Record(elapsed.TotalSeconds, tags);
    }
}
