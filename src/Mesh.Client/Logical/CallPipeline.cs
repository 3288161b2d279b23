using System.Runtime.CompilerServices;
using Mesh.Concrete;
using Mesh.Resilience;
using Mesh.Retry;
using Polly;

namespace Mesh.Logical;

/// <summary>
/// What a call's attempts go through between the logical layer and the concrete one: a retry over an inner Polly
/// pipeline (the service breaker, or none), or a Polly pipeline alone (hedging over the breaker). The retry is a loop
/// in one pooled state machine rather than Polly's retry strategy, whose state machine a call that waits on a socket
/// would allocate every time; it decides as that strategy did: <see cref="RetryStrategy.ShouldRetry"/> after every
/// attempt (the last included, which tells the call why it was not retried), then none past the rules' attempts or
/// once the call is canceled; before the next attempt the retry is counted and logged, the answer that failed is
/// disposed, and the delay the decision chose (<see cref="MeshCall.NextDelay"/>) is waited on the service's clock.
/// </summary>
internal sealed class CallPipeline(ResiliencePipeline<HttpResponseMessage>? inner, RetryStrategy? retry, TimeProvider time)
{
    /// <summary>Gets the Polly pipeline each attempt goes through (the breaker, or hedging over it), or <see langword="null"/> for none.</summary>
    public ResiliencePipeline<HttpResponseMessage>? Inner => inner;

    /// <summary>Gets the retry around <see cref="Inner"/>, or <see langword="null"/> when the call is tried once (or hedged).</summary>
    public RetryStrategy? Retry => retry;

    /// <summary>Runs <paramref name="callback"/> for <paramref name="target"/> as often as the retry decides; the outcome of the last attempt.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Outcome<HttpResponseMessage>> ExecuteAsync(
        Func<ResilienceContext, IAttemptTarget, ValueTask<Outcome<HttpResponseMessage>>> callback, ResilienceContext context, IAttemptTarget target)
    {
        for (var attempt = 0; ; attempt++)
        {
            Outcome<HttpResponseMessage> outcome;
            if (inner is not null)
            {
                // The breaker's Polly pipeline turns whatever the attempt throws into its outcome.
                outcome = await inner.ExecuteOutcomeAsync(callback, context, target).ConfigureAwait(false);
            }
            else if (retry is null)
            {
                // Neither breaker nor retry: the attempt alone, as an empty Polly pipeline ran it.
                return await callback(context, target).ConfigureAwait(false);
            }
            else
            {
                try
                {
                    outcome = await callback(context, target).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // As Polly's retry did: every failure of an attempt becomes its outcome, for the retry to judge.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    outcome = Outcome.FromException<HttpResponseMessage>(ex);
                }
            }

            if (retry is null)
            {
                return outcome;
            }

            var call = CallProperties.CallOf(context);
            if (!retry.ShouldRetry(outcome, call, attempt, hedge: false) || context.CancellationToken.IsCancellationRequested)
            {
                return outcome;
            }

            var delay = call.NextDelay;
            retry.OnRetry(outcome, call, attempt, delay);
            outcome.Result?.Dispose();
            if (delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(delay, time, context.CancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException canceled)
                {
                    return Outcome.FromException<HttpResponseMessage>(canceled);
                }
            }
        }
    }
}
