using System.Runtime.CompilerServices;
using Mesh.Balancing;
using Mesh.Outliers;
using Mesh.Protocol;
using Mesh.Resilience;
using Mesh.Telemetry;

namespace Mesh.Endpoint;

/// <summary>
/// The endpoint layer of one service, once per attempt on one endpoint: scheme, host and port rewritten (path, query,
/// headers and body untouched), the attempt timeout, the lease the balancer learns from, the outcome told to outlier
/// detection, and the attempt's span and duration. Knows one endpoint, never the call's other choices.
/// </summary>
internal sealed class EndpointStage(string service, TimeSpan? attemptTimeout, OutlierDetector detector, CallTelemetry telemetry)
{
    /// <summary>Gets the outlier detector of the service.</summary>
    public OutlierDetector Detector => detector;

    public TimeSpan? AttemptTimeout => attemptTimeout;

    /// <summary>Sends one attempt of <paramref name="call"/> to <paramref name="target"/>; the request is addressed to the logical URI again afterwards.</summary>
    // Pooled: an attempt that waits on the network would otherwise allocate its state machine every time.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<HttpResponseMessage> SendAsync(HttpRequestMessage request, EndpointTarget target, MeshCall call, ITransport transport, CancellationToken cancellationToken)
    {
        var protocol = call.Protocol;
        var time = telemetry.Time;
        var address = target.Endpoint.Address;
        request.RequestUri = target.AddressFor(call.LogicalUri);
        var (number, reason) = call.BeginAttempt();
        protocol.OnAttempt(request, number);
        Explanation.Began(call, target.Load, number, reason);

        using var activity = CallTelemetry.StartAttempt(service, request.Method.Method, request.RequestUri, address.Host, address.Port, target.Endpoint.Zone, number, reason);
        var started = time.GetTimestamp();
        using var attempt = attemptTimeout is { } timeout
            ? CallCancellation.Start(timeout, time, reusable: protocol.MayPoolCancellation(call.Replayable), cancellationToken)
            : default;
        var attempting = attemptTimeout is not null;

        var lease = target.Load.Acquire(started);
        var kind = FailureKind.Reset;
        try
        {
            var response = await transport.SendAsync(request, attempting ? attempt.Token : cancellationToken).ConfigureAwait(false);
            kind = protocol.Classify(response);
            Explanation.Answered(call, number, protocol, response);
            if (activity is not null)
            {
                activity.SetTag(MeshTags.StatusCode, (int)response.StatusCode);
                protocol.Tag(activity, request, response);
            }

            return response;
        }
        catch (OperationCanceledException) when (attempting && attempt.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            kind = FailureKind.AttemptTimeout;
            throw new AttemptTimeoutException(service, attemptTimeout!.Value);
        }
        catch (Exception ex)
        {
            kind = cancellationToken.IsCancellationRequested ? FailureKind.Canceled : Failures.Classify(ex);
            throw;
        }
        finally
        {
            lease.Complete(Outcome(kind), time.GetTimestamp());
            Explanation.Ended(call, number, kind);
            telemetry.EndAttempt(activity, service, target.Authority, kind.TagName(), kind is not FailureKind.None, started);
            if (kind != FailureKind.Canceled)
            {
                detector.Record(target.Ejection, Failures.CountsAgainstEndpoint(kind));
            }

            // The layers above (failover, retries, hedges) see the logical address and pick again.
            request.RequestUri = call.LogicalUri;
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
