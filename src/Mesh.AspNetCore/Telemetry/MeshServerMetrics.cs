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

    private static readonly InstrumentAdvice<double> s_latencyBuckets = new()
    {
        HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    };

    private readonly Meter _meter;

    public MeshServerMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeshTelemetry.Name);
        RequestDuration = _meter.CreateHistogram(
            "mesh.server.request.duration", "s", "Duration of inbound requests, by caller service, route and status.", advice: s_latencyBuckets);
    }

    public Histogram<double> RequestDuration { get; }

    public void Record(HttpContext context, TimeSpan elapsed)
    {
        var caller = context.Request.Headers[MeshHeaders.Caller].ToString();
        var tags = new TagList
        {
            { "mesh.caller", caller.Length == 0 ? UnknownCaller : caller },
            { "http.request.method", context.Request.Method },
            { "http.response.status_code", context.Response.StatusCode },
        };
        if (context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } route })
        {
            tags.Add("http.route", route);
        }

        RequestDuration.Record(elapsed.TotalSeconds, tags);
    }
}
