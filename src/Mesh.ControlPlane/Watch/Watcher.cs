using System.Threading.Tasks.Sources;

namespace Meshd.Watch;

/// <summary>How a parked watch ended.</summary>
internal enum WatchOutcome
{
    /// <summary>A newer snapshot was published.</summary>
    Changed,

    /// <summary>The watcher's wait passed with no change.</summary>
    TimedOut,

    /// <summary>meshd is stopping.</summary>
    Stopped,

    /// <summary>The client went away.</summary>
    Aborted,
}

/// <summary>
/// One parked long poll, completed exactly once: by the fan-out (a newer snapshot), by its deadline, by meshd stopping
/// or by the client leaving. It is its own awaitable, so a parked watcher holds this one object and no timer, linked
/// token source or task of its own.
/// </summary>
internal sealed class Watcher : IValueTaskSource<WatchOutcome>
{
    private readonly WatcherSet _owner;
    private ManualResetValueTaskSourceCore<WatchOutcome> _core;
    private int _done;

    public Watcher(WatcherSet owner, long deadline)
    {
        _owner = owner;
        Deadline = deadline;
    }

    /// <summary>Gets the timestamp (of meshd's <see cref="TimeProvider"/>) after which the watcher times out.</summary>
    public long Deadline { get; }

    public bool IsDone => Volatile.Read(ref _done) != 0;

    /// <summary>
    /// Gets the task that completes once every watcher of the same change has its answer (complete unless this one was
    /// answered by a fan-out): an answered request waits for it before Kestrel reads its next request, so the watchers
    /// coming back do not compete with the answers still going out.
    /// </summary>
    public Task Released { get; private set; } = Task.CompletedTask;

    /// <summary>Gets the outcome, once.</summary>
    public ValueTask<WatchOutcome> Outcome => new(this, _core.Version);

    /// <summary>
    /// Completes the watch unless it is complete already. With <paramref name="inline"/> the waiting request resumes on
    /// the calling thread (the fan-out's own), else on the thread pool.
    /// </summary>
    public bool TryComplete(WatchOutcome outcome, bool inline) => TryComplete(outcome, inline, Task.CompletedTask);

    /// <summary>Completes the watch as a fan-out does: the request's answer is held back from its end until <paramref name="released"/>.</summary>
    public bool TryComplete(WatchOutcome outcome, bool inline, Task released)
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
        {
            return false;
        }

        Released = released;
        _owner.Left();
        _core.RunContinuationsAsynchronously = !inline;
        _core.SetResult(outcome);
        return true;
    }

    /// <summary>The client went away: the request resumes on the thread pool, never inside Kestrel's abort.</summary>
    public static void Abort(object? watcher) => ((Watcher)watcher!).TryComplete(WatchOutcome.Aborted, inline: false);

    WatchOutcome IValueTaskSource<WatchOutcome>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<WatchOutcome>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<WatchOutcome>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
