using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using Mesh.CircuitBreaking;
using Mesh.Discovery;
using Mesh.Grpc;
using Mesh.Pipeline;
using Mesh.RateLimiting;
using Mesh.Telemetry;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;

namespace Mesh.Resilience;

/// <summary>
/// The resilience stage, once per logical call: rate limit → total timeout (and the ambient deadline) → retry or
/// hedging → service breaker, each attempt then going to the endpoint stage. Failures leave as the exceptions an
/// HttpClient user expects, naming the service. Hosts that are not services get a plain total timeout only.
/// </summary>
internal sealed partial class ResilienceHandler(ServiceCatalog catalog, TimeProvider time, ILoggerFactory loggers) : DelegatingHandler
{
    private readonly ILogger _logger = loggers.CreateLogger(ResiliencePolicy.LogCategory);

    /// <summary>The total timeout of requests to hosts that are not services: HttpClient's own default.</summary>
    internal static readonly TimeSpan PassThroughTimeout = TimeSpan.FromSeconds(100);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri;
        if (uri is not null && uri.IsAbsoluteUri && catalog.TryGetService(uri.Host, out var service))
        {
            return SendToServiceAsync(request, service, cancellationToken).AsTask();
        }

        return uri is not null && uri.IsAbsoluteUri && catalog.IsWithoutEndpoints(uri.Host)
            ? Task.FromException<HttpResponseMessage>(new MeshEndpointUnavailableException(uri.Host, [], null, " The service has no registered instance."))
            : SendPassThroughAsync(request, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendPassThroughAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // The mesh owns HttpClient's timeout, so hosts outside the mesh keep the 100 s HttpClient would have applied.
        using var linked = CallCancellation.Start(PassThroughTimeout, time, MeshCall.IsReplayable(request.Content) && !GrpcProtocol.IsGrpc(request), cancellationToken);
        try
        {
            return await base.SendAsync(request, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (linked.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            var message = $"The request to {request.RequestUri?.Host} was canceled after its timeout of {PassThroughTimeout.TotalSeconds:0} s.";
            throw new TaskCanceledException(message, new TimeoutException(message, ex));
        }
    }

    /// <summary>Sends one logical call to a service through rate limit, deadline, retries or hedging and the breaker.</summary>
    internal async ValueTask<HttpResponseMessage> SendToServiceAsync(HttpRequestMessage request, ServiceState service, CancellationToken cancellationToken)
    {
        var policy = service.Policy;
        policy.Budget.Deposit();
        await AcquirePermitAsync(service, cancellationToken).ConfigureAwait(false);

        var now = time.GetUtcNow();
        var timeout = policy.Timeout;
        if (MeshDeadline.Current is { } ambient && ambient - now < timeout)
        {
            timeout = ambient - now;
        }

        if (timeout <= TimeSpan.Zero)
        {
            throw Timeout(service, policy.Timeout, inherited: true, null);
        }

        var call = new MeshCall(service, request, now + timeout);

        // The server learns how long this caller will wait, so the calls it makes in turn can inherit the deadline.
        request.Headers.Remove(MeshHeaders.Timeout);
        request.Headers.TryAddWithoutValidation(
            MeshHeaders.Timeout,
            timeout == policy.Timeout ? policy.TimeoutHeader : ((long)Math.Ceiling(timeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture));

        if (call.IsGrpc)
        {
            GrpcProtocol.LimitTimeout(request, timeout);
        }

        // One source for the caller's token and the deadline; it fired for the deadline when the caller's did not.
        using var linked = CallCancellation.Start(timeout, time, reusable: !call.IsGrpc && call.Replayable, cancellationToken);
        var pipeline = policy.HedgingPipeline is { } hedging && call.Idempotent && call.Replayable ? hedging : policy.Pipeline;
        var context = ResilienceContextPool.Shared.Get(linked.Token);
        Outcome<HttpResponseMessage> outcome;
        try
        {
            context.Properties.Set(ResiliencePolicy.CallKey, call);
            context.Properties.Set(ResiliencePolicy.RequestKey, request);
            outcome = await pipeline.ExecuteOutcomeAsync(
                static async (context, handler) =>
                {
                    try
                    {
                        var attempt = context.Properties.GetValue(ResiliencePolicy.RequestKey, null!);
                        var call = context.Properties.GetValue(ResiliencePolicy.CallKey, null!);
                        return Outcome.FromResult(await handler.SendAttemptAsync(attempt, call, context.CancellationToken).ConfigureAwait(false));
                    }
#pragma warning disable CA1031 // Every failure becomes an outcome for the strategies to judge.
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        return Outcome.FromException<HttpResponseMessage>(ex);
                    }
                },
                context,
                this).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        if (Activity.Current is { } span && span.Source == MeshTelemetry.Source)
        {
            span.SetTag(MeshTags.Attempts, call.Attempts);
        }

        if (outcome.Exception is null)
        {
            return outcome.Result!;
        }

        var translated = Translate(outcome.Exception, service, call, policy.Timeout, timeout < policy.Timeout, linked.IsCancellationRequested && !cancellationToken.IsCancellationRequested);

        // A gRPC client expects a deadline to end as DEADLINE_EXCEEDED, which it reads from the response.
        if (call.IsGrpc && translated is TaskCanceledException { InnerException: TimeoutException })
        {
            return GrpcProtocol.DeadlineExceededResponse(request, translated.Message);
        }

        if (ReferenceEquals(translated, outcome.Exception))
        {
            ExceptionDispatchInfo.Throw(translated);
        }

        throw translated;
    }

    /// <summary>
    /// One attempt: straight to the endpoint stage when it comes next, as it does in every mesh pipeline; through the
    /// handlers in between otherwise, with the call in the request's options for the endpoint stage to find.
    /// </summary>
    private ValueTask<HttpResponseMessage> SendAttemptAsync(HttpRequestMessage request, MeshCall call, CancellationToken cancellationToken) =>
        InnerHandler is EndpointHandler endpoint
            ? endpoint.SendAttemptAsync(request, call, cancellationToken)
            : SendAttemptThroughAsync(request, call, cancellationToken);

    private async ValueTask<HttpResponseMessage> SendAttemptThroughAsync(HttpRequestMessage request, MeshCall call, CancellationToken cancellationToken)
    {
        request.Options.Set(MeshCall.Key, call);
        try
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ((IDictionary<string, object?>)request.Options).Remove(MeshCall.Key.Key);
        }
    }

    private async ValueTask AcquirePermitAsync(ServiceState service, CancellationToken cancellationToken)
    {
        if (service.Policy.Limiter is not { } limiter)
        {
            return;
        }

        using var lease = limiter.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return;
        }

        using var queued = await limiter.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
        if (!queued.IsAcquired)
        {
            service.Policy.Counters.RateLimit();
            LogRateLimited(_logger, service.Name, service.Policy.PermitsPerSecond);
            throw new MeshRateLimitedException(service.Name, service.Policy.PermitsPerSecond);
        }
    }

    private static Exception Translate(Exception exception, ServiceState service, MeshCall call, TimeSpan configured, bool inherited, bool deadlinePassed)
    {
        var note = call.NotRetriedReason is { } reason ? $" Not retried: {reason}." : string.Empty;
        return exception switch
        {
            OperationCanceledException when deadlinePassed => Timeout(service, configured, inherited, exception),
            AttemptTimeoutException attempt => new TaskCanceledException(attempt.Message + note, new TimeoutException(attempt.Message, attempt)),
            BrokenCircuitException broken => new MeshCircuitOpenException(service.Name, broken.RetryAfter, broken),
            HttpRequestException connect when Failures.NeverSent(connect) =>
                new MeshEndpointUnavailableException(service.Name, call.TriedAddresses(), connect, note),
            HttpRequestException http when note.Length > 0 =>
                new HttpRequestException(http.HttpRequestError, http.Message + note, http, http.StatusCode),
            _ => exception,
        };
    }

    private static TaskCanceledException Timeout(ServiceState service, TimeSpan configured, bool inherited, Exception? inner)
    {
        var message = inherited
            ? $"The request to service '{service.Name}' was canceled: the deadline it inherited passed (its own timeout is {configured.TotalSeconds:0.###} s)."
            : $"The request to service '{service.Name}' was canceled after its timeout of {configured.TotalSeconds:0.###} s elapsed.";
        return new TaskCanceledException(message, new TimeoutException(message, inner));
    }

    [LoggerMessage(28, LogLevel.Debug, "A call to service '{Service}' was not sent: its rate limit of {PermitsPerSecond} requests per second was reached.")]
    private static partial void LogRateLimited(ILogger logger, string service, int permitsPerSecond);
}
