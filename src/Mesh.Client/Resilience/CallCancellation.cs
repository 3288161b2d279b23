using System.Collections.Concurrent;

namespace Mesh.Resilience;

/// <summary>
/// A token that fires after a delay or when the caller's token does, whichever comes first. On the system clock its
/// source comes from a pool and goes back reset (as Polly's timeout strategy does), so a call allocates neither a
/// source nor a timer; a source that fired is never reused.
/// </summary>
internal struct CallCancellation : IDisposable
{
    private const int MaxPooled = 1024;
    private static readonly ConcurrentQueue<CancellationTokenSource> s_pool = new();
    private static int s_pooled;

    private readonly bool _pooled;
    private CancellationTokenSource? _source;
    private readonly CancellationTokenRegistration _registration;

    private CallCancellation(CancellationTokenSource source, bool pooled, CancellationToken caller)
    {
        _source = source;
        _pooled = pooled;
        _registration = caller.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), source);
    }

    /// <summary>Gets the token to pass on.</summary>
    public readonly CancellationToken Token => _source!.Token;

    /// <summary>Gets whether the token fired, for the delay or for the caller.</summary>
    public readonly bool IsCancellationRequested => _source!.IsCancellationRequested;

    /// <summary>
    /// Starts one: a token that fires after <paramref name="delay"/> on <paramref name="time"/>, or with
    /// <paramref name="caller"/>. Only a <paramref name="reusable"/> one goes back to the pool: a request whose body
    /// may still be streaming after the answer's headers (gRPC, a plain stream) keeps its own source to the end.
    /// </summary>
    public static CallCancellation Start(TimeSpan delay, TimeProvider time, bool reusable, CancellationToken caller)
    {
        if (!reusable || !ReferenceEquals(time, TimeProvider.System))
        {
            return new CallCancellation(new CancellationTokenSource(delay, time), pooled: false, caller);
        }

        if (delay == Timeout.InfiniteTimeSpan)
        {
            return new CallCancellation(new CancellationTokenSource(), pooled: false, caller);
        }

        if (s_pool.TryDequeue(out var source))
        {
            Interlocked.Decrement(ref s_pooled);
        }
        else
        {
            source = new CancellationTokenSource();
        }

        source.CancelAfter(delay);
        return new CallCancellation(source, pooled: true, caller);
    }

    public void Dispose()
    {
        if (_source is not { } source)
        {
            return;
        }

        _source = null;

        // Waits for a caller's cancellation in progress, so the source is settled before it is judged.
        _registration.Dispose();
        if (_pooled && source.TryReset())
        {
            if (Interlocked.Increment(ref s_pooled) <= MaxPooled)
            {
                s_pool.Enqueue(source);
                return;
            }

            Interlocked.Decrement(ref s_pooled);
        }

        source.Dispose();
    }
}
