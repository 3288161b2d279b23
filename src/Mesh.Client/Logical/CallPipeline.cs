using System.Runtime.CompilerServices;
using Mesh.CircuitBreaking;
using Mesh.Concrete;
using Mesh.Endpoint;
using Mesh.Resilience;
using Mesh.Retry;
using Polly;

namespace Mesh.Logical;

/// <summary>
/// What a call's attempts go through between the logical layer and the concrete one: the mesh's retry loop around the
/// service breaker (either may be absent), or Polly's hedging over the same breaker. The loop is one pooled state
/// machine and the breaker is asked before each attempt and told after it, so an attempt that waits on a socket costs
/// no asynchronous layer and no allocation here; only a hedged call has a Polly context. The loop decides as Polly's
/// retry strategy did: <see cref="RetryStrategy.ShouldRetry"/> after every attempt (the last included, which tells the
/// call why it was not retried), then none past the rules' attempts or once the call is canceled; before the next
/// attempt the retry is counted and logged, the answer that failed is disposed, and the delay the decision chose
/// (<see cref="MeshCall.NextDelay"/>) is waited on the service's clock.
/// </summary>
internal sealed class CallPipeline
{
    private static readonly ResiliencePropertyKey<ITransport> s_transport = new("Mesh.Transport");

    private readonly BreakerStrategy? _breaker;
    private readonly RetryStrategy? _retry;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline<HttpResponseMessage>? _hedging;

    /// <summary>The retry loop (<paramref name="retry"/> <see langword="null"/>: one attempt) around <paramref name="breaker"/> (or none).</summary>
    public CallPipeline(BreakerStrategy? breaker, RetryStrategy? retry, TimeProvider time)
    {
        _breaker = breaker;
        _retry = retry;
        _time = time;
    }

    /// <summary>Polly's <paramref name="hedging"/> pipeline, the breaker inside it.</summary>
    public CallPipeline(ResiliencePipeline<HttpResponseMessage> hedging, TimeProvider time)
    {
        _hedging = hedging;
        _time = time;
    }

    /// <summary>Gets the breaker the retry loop asks before each attempt, or <see langword="null"/> for none (or for hedging, whose Polly pipeline holds it).</summary>
    public BreakerStrategy? Breaker => _breaker;

    /// <summary>Gets the retry, or <see langword="null"/> when the call is tried once (or hedged).</summary>
    public RetryStrategy? Retry => _retry;

    /// <summary>Gets the Polly pipeline of a hedged call, or <see langword="null"/> for the retry loop.</summary>
    public ResiliencePipeline<HttpResponseMessage>? Hedging => _hedging;

    /// <summary>Sends <paramref name="call"/>'s attempts to <paramref name="target"/>; the outcome of the last one.</summary>
    public ValueTask<Outcome<HttpResponseMessage>> ExecuteAsync(HttpRequestMessage request, MeshCall call, ITransport transport, IAttemptTarget target, CancellationToken cancellationToken) =>
        _hedging is null ? LoopAsync(request, call, transport, target, cancellationToken) : HedgeAsync(request, call, transport, target, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome<HttpResponseMessage>> LoopAsync(HttpRequestMessage request, MeshCall call, ITransport transport, IAttemptTarget target, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            Outcome<HttpResponseMessage> outcome;
            if (_breaker?.TryEnter() is { } refused)
            {
                outcome = Outcome.FromException<HttpResponseMessage>(refused);
            }
            else
            {
                try
                {
                    outcome = await target.SendAsync(request, call, transport, cancellationToken).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // As Polly's strategies did: every failure of an attempt becomes its outcome, for the breaker and the retry to judge.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    outcome = Outcome.FromException<HttpResponseMessage>(ex);
                }

                _breaker?.Record(outcome, call);
            }

            if (_retry is null || !_retry.ShouldRetry(outcome, call, attempt, hedge: false) || cancellationToken.IsCancellationRequested)
            {
                return outcome;
            }

            var delay = call.NextDelay;
            _retry.OnRetry(outcome, call, attempt, delay);
            outcome.Result?.Dispose();
            if (delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException canceled)
                {
                    return Outcome.FromException<HttpResponseMessage>(canceled);
                }
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome<HttpResponseMessage>> HedgeAsync(HttpRequestMessage request, MeshCall call, ITransport transport, IAttemptTarget target, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(CallProperties.Call, call);
            context.Properties.Set(CallProperties.Request, request);

            // The state is one reference: Polly's own state machines carry it, so a wider one costs bytes on every call that waits.
            context.Properties.Set(s_transport, transport);
            return await _hedging!.ExecuteOutcomeAsync(
                static (context, target) => target.SendAsync(
                    context.Properties.GetValue(CallProperties.Request, null!),
                    CallProperties.CallOf(context),
                    context.Properties.GetValue(s_transport, null!),
                    context.CancellationToken),
                context,
                target).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }
}
