using System.Diagnostics;
using Mesh.Balancing;
using Mesh.Discovery;
using Mesh.Grpc;
using Mesh.Resilience;
using Mesh.Telemetry;

namespace Mesh.Pipeline;

/// <summary>
/// The innermost mesh handler, run once per attempt: the balancer picks an endpoint (one the call has not tried, while
/// there is one), scheme, host and port are rewritten, the attempt timeout applies, and the outcome is recorded on the
/// endpoint's lease and by outlier detection. An endpoint that cannot be reached (the request was never sent) is
/// replaced by another within the same attempt, so retries, hedges, the budget and the breaker only see attempts that
/// reached a server or found none. Hosts that are not services pass through untouched.
/// </summary>
internal sealed class EndpointHandler(ServiceCatalog catalog, TimeProvider time, MeshMetrics metrics) : DelegatingHandler
{
    /// <summary>The most endpoints one attempt tries when connections fail.</summary>
    internal const int MaxEndpointsPerAttempt = 3;

    // The path and query come from a parsed Uri, so they are already canonical: parsing them again is wasted work.
    private static readonly UriCreationOptions s_canonical = new() { DangerousDisablePathAndQueryCanonicalization = true };

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Options.TryGetValue(MeshCall.Key, out var call);
        var logical = call?.LogicalUri ?? request.RequestUri;
        if (call is not null)
        {
            return SendToServiceAsync(request, logical!, call.Service, call, cancellationToken).AsTask();
        }

        return logical is not null && logical.IsAbsoluteUri && catalog.TryGetService(logical.Host, out var service)
            ? SendToServiceAsync(request, logical, service, null, cancellationToken).AsTask()
            : base.SendAsync(request, cancellationToken);
    }

    /// <summary>One attempt of a call, from the resilience stage directly before it.</summary>
    internal ValueTask<HttpResponseMessage> SendAttemptAsync(HttpRequestMessage request, MeshCall call, CancellationToken cancellationToken) =>
        SendToServiceAsync(request, call.LogicalUri, call.Service, call, cancellationToken);

    private async ValueTask<HttpResponseMessage> SendToServiceAsync(HttpRequestMessage request, Uri logical, ServiceState service, MeshCall? call, CancellationToken cancellationToken)
    {
        var pathAndQuery = logical.GetComponents(UriComponents.PathAndQuery, UriFormat.UriEscaped);
        var limit = Math.Min(MaxEndpointsPerAttempt, service.Available.Length);
        for (var tried = 1; ; tried++)
        {
            var endpoint = service.Pick(request, call);
            call?.AddTried(endpoint);
            request.RequestUri = new Uri(endpoint.Authority + pathAndQuery, in s_canonical);
            var (number, reason) = call?.BeginAttempt() ?? (1, null);
            if (number > 1 && call is { IsGrpc: true })
            {
                GrpcProtocol.SetPreviousAttempts(request, number - 1);
            }

            using var activity = StartAttemptActivity(request, service, endpoint, number, reason);
            var started = time.GetTimestamp();

            var attemptTimeout = service.Policy.AttemptTimeout;
            using var attempt = attemptTimeout is { } timeout
                ? CallCancellation.Start(timeout, time, reusable: call is { IsGrpc: false, Replayable: true }, cancellationToken)
                : default;
            var attempting = attemptTimeout is not null;

            var lease = endpoint.Acquire(started);
            var kind = FailureKind.Reset;
            try
            {
                var response = await base.SendAsync(request, attempting ? attempt.Token : cancellationToken).ConfigureAwait(false);
                kind = Failures.Classify(response);
                activity?.SetTag(MeshTags.StatusCode, (int)response.StatusCode);
                if (activity is not null && call is { IsGrpc: true })
                {
                    GrpcProtocol.Tag(activity, request, response);
                }

                return response;
            }
            catch (OperationCanceledException) when (attempting && attempt.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                kind = FailureKind.AttemptTimeout;
                throw new AttemptTimeoutException(service.Name, attemptTimeout!.Value);
            }
            catch (Exception ex)
            {
                kind = cancellationToken.IsCancellationRequested ? FailureKind.Canceled : Failures.Classify(ex);

                // Never sent: another endpoint may take it within this attempt, whatever the method.
                if (call is null || tried >= limit || kind != FailureKind.ConnectFailure)
                {
                    throw;
                }

                call.SetNextReason($"failover after {((HttpRequestException)ex).HttpRequestError}: {ex.Message}");
            }
            finally
            {
                lease.Complete(Outcome(kind), time.GetTimestamp());
                RecordAttempt(activity, service, endpoint, kind, started);
                if (kind != FailureKind.Canceled)
                {
                    service.Policy.Outliers.Record(service, endpoint, Failures.CountsAgainstEndpoint(kind));
                }

                // Layers above (retries, hedges) see the logical address and pick again.
                request.RequestUri = logical;
            }
        }
    }

    private static Activity? StartAttemptActivity(HttpRequestMessage request, ServiceState service, EndpointState endpoint, int number, string? reason)
    {
        var activity = MeshTelemetry.Source.StartActivity(request.Method.Method, ActivityKind.Client);
        if (activity is null)
        {
            return null;
        }

        var address = endpoint.Endpoint.Address;
        activity.SetTag(MeshTags.Service, service.Name);
        activity.SetTag(MeshTags.Method, request.Method.Method);
        activity.SetTag(MeshTags.ServerAddress, address.Host);
        activity.SetTag(MeshTags.ServerPort, address.Port);
        activity.SetTag(MeshTags.Url, request.RequestUri!.ToString());
        activity.SetTag(MeshTags.Attempt, number);
        if (endpoint.Endpoint.Zone is { } zone)
        {
            activity.SetTag(MeshTags.Zone, zone);
        }

        if (reason is not null)
        {
            activity.SetTag(MeshTags.AttemptReason, reason);
        }

        return activity;
    }

    private void RecordAttempt(Activity? activity, ServiceState service, EndpointState endpoint, FailureKind kind, long started)
    {
        var outcome = kind switch
        {
            FailureKind.None => "success",
            FailureKind.ServerError => "server_error",
            FailureKind.ConnectFailure => "connect_failure",
            FailureKind.RefusedStream => "refused_stream",
            FailureKind.AttemptTimeout => "timeout",
            FailureKind.Canceled => "canceled",
            _ => "error",
        };
        metrics.AttemptDuration.Record(
            time.GetElapsedTime(started).TotalSeconds,
            new KeyValuePair<string, object?>(MeshTags.Service, service.Name),
            new KeyValuePair<string, object?>(MeshTags.ServerAddress, endpoint.Authority),
            new KeyValuePair<string, object?>(MeshTags.Outcome, outcome));
        if (activity is not null)
        {
            activity.SetTag(MeshTags.Outcome, outcome);
            if (kind is not FailureKind.None)
            {
                activity.SetStatus(ActivityStatusCode.Error);
                activity.SetTag(MeshTags.ErrorType, outcome);
            }
        }
    }

    private static EndpointOutcome Outcome(FailureKind kind) => kind switch
    {
        FailureKind.None => EndpointOutcome.Success,
        FailureKind.ConnectFailure or FailureKind.RefusedStream => EndpointOutcome.NotSent,
        FailureKind.Canceled => EndpointOutcome.Canceled,
        _ => EndpointOutcome.Failure,
    };
}
