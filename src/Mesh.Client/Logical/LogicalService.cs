using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Mesh.CircuitBreaking;
using Mesh.Concrete;
using Mesh.Discovery;
using Mesh.Endpoint;
using Mesh.Protocol;
using Mesh.RateLimiting;
using Mesh.Resilience;
using Mesh.Telemetry;
using Polly;
using Polly.CircuitBreaker;

namespace Mesh.Logical;

/// <summary>
/// The logical layer of one service, once per call: the call's span and golden metrics, the routing slot (every call
/// goes to the service's one destination until routes exist), then its strategies in the order
/// <see cref="ServicePolicy"/> composes them, each attempt going to the concrete layer. Failures leave as the
/// exceptions an HttpClient user expects, naming the service. Knows the logical service, never an endpoint.
/// </summary>
internal sealed class LogicalService(string name, MeshServiceOptions options, string? caller, ServicePolicy policy, Destination destination, CallTelemetry telemetry)
{
    public string Name => name;

    /// <summary>Gets the options the service was built from.</summary>
    public MeshServiceOptions Options => options;

    public ServicePolicy Policy => policy;

    /// <summary>Gets where its calls go: today every call goes to the service's whole endpoint set.</summary>
    public Destination Destination => destination;

    /// <summary>Sends one logical call to the service.</summary>
    // Pooled, and wrapped in a Task only at the edge: smaller than a Task state machine when the call waits.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<HttpResponseMessage> SendAsync(HttpRequestMessage request, ITransport transport, CancellationToken cancellationToken)
    {
        // The callee learns which service calls it, for its own metrics.
        request.Headers.Remove(MeshHeaders.Caller);
        if (caller is not null)
        {
            request.Headers.TryAddWithoutValidation(MeshHeaders.Caller, caller);
        }

        var protocol = Protocols.Of(request);
        var method = request.Method.Method;
        using var activity = telemetry.StartCall(name, method, request.RequestUri!);
        var started = telemetry.Time.GetTimestamp();
        try
        {
            var response = await SendResilientAsync(request, protocol, transport, cancellationToken).ConfigureAwait(false);
            telemetry.EndCall(activity, name, method, started, (int)response.StatusCode, CallOutcomes.OfStatus((int)response.StatusCode), null);
            if (activity is not null)
            {
                protocol.Tag(activity, request, response);
            }

            return response;
        }
        catch (Exception ex)
        {
            telemetry.EndCall(activity, name, method, started, null, OutcomeOf(ex), ex);
            if (activity is not null)
            {
                protocol.Tag(activity, request, null);
            }

            throw;
        }
    }

    /// <summary>The outcome class of a failed call, for metrics and spans.</summary>
    internal static string OutcomeOf(Exception exception) => exception switch
    {
        TaskCanceledException { InnerException: TimeoutException } => CallOutcomes.Timeout,
        OperationCanceledException => CallOutcomes.Canceled,
        MeshCircuitOpenException => CallOutcomes.CircuitOpen,
        MeshRateLimitedException => CallOutcomes.RateLimited,
        MeshEndpointUnavailableException => CallOutcomes.Unavailable,
        _ => CallOutcomes.Error,
    };

    /// <summary>Rate limit → total timeout and deadline → retry or hedging → breaker → the concrete layer, per attempt.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<HttpResponseMessage> SendResilientAsync(HttpRequestMessage request, IProtocol protocol, ITransport transport, CancellationToken cancellationToken)
    {
        var time = telemetry.Time;
        policy.Retry.Budget.Deposit();
        if (policy.RateLimit is { } limit)
        {
            await limit.AcquireAsync(cancellationToken).ConfigureAwait(false);
        }

        var now = time.GetUtcNow();
        var timeout = policy.Timeout;
        if (MeshDeadline.Current is { } ambient && ambient - now < timeout)
        {
            timeout = ambient - now;
        }

        if (timeout <= TimeSpan.Zero)
        {
            throw Timeout(policy.Timeout, inherited: true, null);
        }

        var call = new MeshCall(name, request, protocol, now + timeout);

        // The server learns how long this caller will wait, so the calls it makes in turn can inherit the deadline.
        request.Headers.Remove(MeshHeaders.Timeout);
        request.Headers.TryAddWithoutValidation(
            MeshHeaders.Timeout,
            timeout == policy.Timeout ? policy.TimeoutHeader : ((long)Math.Ceiling(timeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture));
        protocol.LimitDeadline(request, timeout);

        // One source for the caller's token and the deadline; it fired for the deadline when the caller's did not.
        using var linked = CallCancellation.Start(timeout, time, reusable: protocol.MayPoolCancellation(call.Replayable), cancellationToken);
        var pipeline = policy.HedgingPipeline is { } hedging && call.Idempotent && call.Replayable ? hedging : policy.Pipeline;
        var context = ResilienceContextPool.Shared.Get(linked.Token);
        Outcome<HttpResponseMessage> outcome;
        try
        {
            context.Properties.Set(CallProperties.Call, call);
            context.Properties.Set(CallProperties.Request, request);
            outcome = await pipeline.ExecuteOutcomeAsync(
                [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
                static async ValueTask<Outcome<HttpResponseMessage>> (ResilienceContext context, (Destination Destination, ITransport Transport) state) =>
                {
                    try
                    {
                        var attempt = context.Properties.GetValue(CallProperties.Request, null!);
                        var call = CallProperties.CallOf(context);
                        return Outcome.FromResult(await state.Destination.SendAsync(attempt, call, state.Transport, context.CancellationToken).ConfigureAwait(false));
                    }
#pragma warning disable CA1031 // Every failure becomes an outcome for the strategies to judge.
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        return Outcome.FromException<HttpResponseMessage>(ex);
                    }
                },
                context,
                (destination, transport)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        CallTelemetry.TagAttempts(call.Attempts);
        if (outcome.Exception is null)
        {
            return outcome.Result!;
        }

        var translated = Translate(outcome.Exception, call, timeout < policy.Timeout, linked.IsCancellationRequested && !cancellationToken.IsCancellationRequested);

        // A gRPC client expects a deadline to end as DEADLINE_EXCEEDED, which it reads from the response.
        if (translated is TaskCanceledException { InnerException: TimeoutException } && protocol.DeadlineExceeded(request, translated.Message) is { } deadlineExceeded)
        {
            return deadlineExceeded;
        }

        if (ReferenceEquals(translated, outcome.Exception))
        {
            ExceptionDispatchInfo.Throw(translated);
        }

        throw translated;
    }

    private Exception Translate(Exception exception, MeshCall call, bool inherited, bool deadlinePassed)
    {
        var note = call.NotRetriedReason is { } reason ? $" Not retried: {reason}." : string.Empty;
        return exception switch
        {
            OperationCanceledException when deadlinePassed => Timeout(policy.Timeout, inherited, exception),
            AttemptTimeoutException attempt => new TaskCanceledException(attempt.Message + note, new TimeoutException(attempt.Message, attempt)),
            BrokenCircuitException broken => BreakerStrategy.Refused(name, broken),
            MeshEndpointUnavailableException { NoEndpoint: true } => exception,
            HttpRequestException connect when Failures.NeverSent(connect) =>
                new MeshEndpointUnavailableException(name, call.TriedAddresses(), connect, note),
            HttpRequestException http when note.Length > 0 =>
                new HttpRequestException(http.HttpRequestError, http.Message + note, http, http.StatusCode),
            _ => exception,
        };
    }

    private TaskCanceledException Timeout(TimeSpan configured, bool inherited, Exception? inner)
    {
        var message = inherited
            ? $"The request to service '{name}' was canceled: the deadline it inherited passed (its own timeout is {configured.TotalSeconds:0.###} s)."
            : $"The request to service '{name}' was canceled after its timeout of {configured.TotalSeconds:0.###} s elapsed.";
        return new TaskCanceledException(message, new TimeoutException(message, inner));
    }
}
