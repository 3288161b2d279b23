using System.Diagnostics;
using Mesh.CircuitBreaking;
using Mesh.Discovery;
using Mesh.Grpc;
using Mesh.RateLimiting;
using Mesh.Resilience;

namespace Mesh.Telemetry;

/// <summary>
/// The outermost mesh stage: one span (when someone listens) and one duration measurement per logical call to a
/// service, with its outcome. Hosts that are not services pass through untouched.
/// </summary>
internal sealed class TelemetryHandler(ServiceCatalog catalog, MeshMetrics metrics, MeshStats stats, TimeProvider time) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri;
        return uri is not null && uri.IsAbsoluteUri && catalog.TryGetService(uri.Host, out var service)
            ? SendToServiceAsync(request, service, cancellationToken)
            : base.SendAsync(request, cancellationToken);
    }

    /// <summary>The outcome class of a failed call, for metrics and spans.</summary>
    internal static string OutcomeOf(Exception exception) => exception switch
    {
        TaskCanceledException { InnerException: TimeoutException } => "timeout",
        OperationCanceledException => "canceled",
        MeshCircuitOpenException => "circuit_open",
        MeshRateLimitedException => "rate_limited",
        MeshEndpointUnavailableException => "unavailable",
        _ => "error",
    };

    internal static string OutcomeOf(int status) => status >= 500 ? "server_error" : status >= 400 ? "client_error" : "success";

    private async Task<HttpResponseMessage> SendToServiceAsync(HttpRequestMessage request, ServiceState state, CancellationToken cancellationToken)
    {
        var service = state.Name;
        // The callee learns which service calls it, for its own metrics.
        request.Headers.Remove(MeshHeaders.Caller);
        if (catalog.ServiceName is { } caller)
        {
            request.Headers.TryAddWithoutValidation(MeshHeaders.Caller, caller);
        }

        metrics.ActiveRequests.Add(1, new KeyValuePair<string, object?>(MeshTags.Service, service));
        var method = request.Method.Method;
        // The span's name is made only when someone listens.
        using var activity = MeshTelemetry.Source.HasListeners() ? MeshTelemetry.Source.StartActivity($"{method} {service}", ActivityKind.Internal) : null;
        if (activity is not null)
        {
            activity.SetTag(MeshTags.Service, service);
            activity.SetTag(MeshTags.Method, method);
            activity.SetTag(MeshTags.Url, request.RequestUri!.ToString());
        }

        var started = time.GetTimestamp();
        try
        {
            var response = await SendNextAsync(request, state, cancellationToken).ConfigureAwait(false);
            Finish(activity, service, method, started, (int)response.StatusCode, null);
            if (activity is not null && GrpcProtocol.IsGrpc(request))
            {
                GrpcProtocol.Tag(activity, request, response);
            }

            return response;
        }
        catch (Exception ex)
        {
            Finish(activity, service, method, started, null, ex);
            if (activity is not null && GrpcProtocol.IsGrpc(request))
            {
                GrpcProtocol.Tag(activity, request, null);
            }

            throw;
        }
    }

    // The next stage is called directly when it is the mesh's own: no second service lookup, no Task of its own.
    private ValueTask<HttpResponseMessage> SendNextAsync(HttpRequestMessage request, ServiceState service, CancellationToken cancellationToken) =>
        InnerHandler is ResilienceHandler resilience
            ? resilience.SendToServiceAsync(request, service, cancellationToken)
            : new ValueTask<HttpResponseMessage>(base.SendAsync(request, cancellationToken));

    // Outside the async method, so the tags live on the stack rather than in the state machine.
    private void Finish(Activity? activity, string service, string method, long started, int? status, Exception? exception)
    {
        var elapsed = time.GetElapsedTime(started);
        var outcome = status is { } code ? OutcomeOf(code) : OutcomeOf(exception!);
        var tags = new TagList
        {
            { MeshTags.Service, service },
            { MeshTags.Method, method },
            { MeshTags.Outcome, outcome },
        };
        if (status is { } answered)
        {
            tags.Add(MeshTags.StatusCode, BoxedStatusCodes.Boxed(answered));
        }
        else
        {
            tags.Add(MeshTags.ErrorType, exception!.GetType().FullName);
        }

        metrics.RequestDuration.Record(elapsed.TotalSeconds, tags);
        metrics.ActiveRequests.Add(-1, new KeyValuePair<string, object?>(MeshTags.Service, service));
        stats.Record(service, elapsed, status is < 500);

        if (activity is not null)
        {
            activity.SetTag(MeshTags.Outcome, outcome);
            if (status is { } code2)
            {
                activity.SetTag(MeshTags.StatusCode, code2);
            }

            if (status is null or >= 500)
            {
                activity.SetTag(MeshTags.ErrorType, status?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? exception!.GetType().FullName);
                activity.SetStatus(ActivityStatusCode.Error, exception?.Message);
            }
        }
    }
}
