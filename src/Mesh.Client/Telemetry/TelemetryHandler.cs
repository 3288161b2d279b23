using System.Diagnostics;
using Mesh.CircuitBreaking;
using Mesh.Discovery;
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
            ? SendToServiceAsync(request, service.Name, cancellationToken)
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

    private async Task<HttpResponseMessage> SendToServiceAsync(HttpRequestMessage request, string service, CancellationToken cancellationToken)
    {
        // The callee learns which service calls it, for its own metrics.
        request.Headers.Remove(MeshHeaders.Caller);
        if (catalog.ServiceName is { } caller)
        {
            request.Headers.TryAddWithoutValidation(MeshHeaders.Caller, caller);
        }

        var serviceTag = new KeyValuePair<string, object?>(MeshTags.Service, service);
        metrics.ActiveRequests.Add(1, serviceTag);
        using var activity = MeshTelemetry.Source.StartActivity($"{request.Method.Method} {service}", ActivityKind.Internal);
        if (activity is not null)
        {
            activity.SetTag(MeshTags.Service, service);
            activity.SetTag(MeshTags.Method, request.Method.Method);
            activity.SetTag(MeshTags.Url, request.RequestUri!.ToString());
        }

        var started = time.GetTimestamp();
        var tags = new TagList { serviceTag, { MeshTags.Method, request.Method.Method } };
        var success = false;
        try
        {
            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var outcome = OutcomeOf(status);
            tags.Add(MeshTags.StatusCode, status);
            tags.Add(MeshTags.Outcome, outcome);
            success = status < 500;
            if (activity is not null)
            {
                activity.SetTag(MeshTags.StatusCode, status);
                activity.SetTag(MeshTags.Outcome, outcome);
                if (status >= 500)
                {
                    activity.SetStatus(ActivityStatusCode.Error);
                    activity.SetTag(MeshTags.ErrorType, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
            }

            return response;
        }
        catch (Exception ex)
        {
            var outcome = OutcomeOf(ex);
            tags.Add(MeshTags.Outcome, outcome);
            tags.Add(MeshTags.ErrorType, ex.GetType().FullName);
            activity?.SetTag(MeshTags.Outcome, outcome);
            activity?.SetTag(MeshTags.ErrorType, ex.GetType().FullName);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
        finally
        {
            var elapsed = time.GetElapsedTime(started);
            metrics.RequestDuration.Record(elapsed.TotalSeconds, tags);
            stats.Record(service, elapsed, success);
            metrics.ActiveRequests.Add(-1, serviceTag);
        }
    }
}
