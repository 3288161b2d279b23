using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mesh.AspNetCore.Identity;
using Mesh.Resilience;
using Mesh.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Mesh.AspNetCore.Telemetry;

/// <summary>
/// Inbound golden metrics on the <c>Mesh</c> meter: request count and duration by caller service, route and status. When
/// the workload has an identity the caller is the one its certificate proved (<c>unauthenticated</c> for plaintext and
/// for TLS without a client certificate), never a header; without an identity nothing is proved, and the caller is the
/// <c>mesh-caller</c> header meshed clients send, as they claim it. Each request also goes, under the same caller, to the
/// minute of <see cref="InboundStats"/>.
/// </summary>
internal sealed class MeshServerMetrics
{
    /// <summary>The caller recorded, on a server without identity, for requests that carry no <c>mesh-caller</c> header.</summary>
    internal const string UnknownCaller = "unknown";

    /// <summary>The caller recorded, on a server with an identity, for requests whose caller proved none.</summary>
    internal const string UnauthenticatedCaller = "unauthenticated";

    private readonly Meter _meter;
    private readonly bool _identity;
    private readonly InboundStats _inbound;

    public MeshServerMetrics(IMeterFactory meters, ServerIdentity identity, InboundStats inbound)
    {
        _identity = identity.IsEnabled;
        _inbound = inbound;
        _meter = meters.Create(MeshTelemetry.Name);
        RequestDuration = _meter.CreateHistogram(
            "mesh.server.request.duration", "s", "Duration of inbound requests, by caller service, route and status.", advice: MeshMetrics.LatencyBuckets);
    }

    public Histogram<double> RequestDuration { get; }

    /// <summary>Records a request that ended; <paramref name="threw"/> when the application's pipeline failed it with an exception.</summary>
    public void Record(HttpContext context, TimeSpan elapsed, bool threw = false)
    {
        var caller = Caller(context);
        // A request that threw before its answer started is answered 500 by the server after this; one that had started
        // keeps the status it sent (its connection is then cut).
        var status = threw && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
        _inbound.Record(caller, elapsed, !threw && status < 500);
        var tags = new TagList
        {
            { MeshTags.Caller, caller },
            { MeshTags.Method, context.Request.Method },
            { MeshTags.StatusCode, BoxedStatusCodes.Boxed(status) },
        };
        if (context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } route })
        {
            tags.Add(MeshTags.Route, route);
        }

        RequestDuration.Record(elapsed.TotalSeconds, tags);
    }

    private string Caller(HttpContext context)
    {
        switch (context.Features.Get<IMeshCallerFeature>())
        {
            case MeshCaller caller:
                return caller.MetricName;
            case { } other:
                return other.ServiceName ?? other.Id.ToString();
        }

        if (_identity)
        {
            return UnauthenticatedCaller;
        }

        var claimed = context.Request.Headers[MeshHeaders.Caller].ToString();
        return claimed.Length == 0 ? UnknownCaller : claimed;
    }
}
