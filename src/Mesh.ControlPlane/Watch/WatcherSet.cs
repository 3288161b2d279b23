namespace Meshd.Watch;

/// <summary>
/// The parked watchers and their fan-out. Watchers of the current version are kept in one list; publishing a version
/// hands that list whole to a dedicated fan-out thread, which resumes each waiting request on itself, one after the
/// other, until its answer is handed to Kestrel, so ten thousand answers neither flood the thread pool nor queue ahead
/// of the write that caused them; only then do the requests end and read their next ones. One timer serves every
/// deadline (the earliest), instead of one timer per watcher.
/// </summary>
internal sealed class WatcherSet : IDisposable
{
    private readonly TimeProvider _time;
    private readonly int _max;
    private readonly Lock _lock = new();
    private readonly PriorityQueue<Watcher, long> _deadlines = new();
    private readonly ITimer _timer;
    private readonly Queue<List<Watcher>> _fanouts = new();
    private readonly SemaphoreSlim _fanoutReady = new(0);
    private readonly Thread _fanout;
    private List<Watcher> _current = [];
    private long _version;
    private long _armedFor = long.MaxValue;
    private int _parked;
    private bool _stopped;
    private (int Answered, TimeSpan Took) _lastFanOut;

    public WatcherSet(TimeProvider time, int max, long version)
    {
        _time = time;
        _max = max;
        _version = version;
        _timer = time.CreateTimer(static s => ((WatcherSet)s!).OnDeadline(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _fanout = new Thread(FanOutLoop) { IsBackground = true, Name = "meshd watch fan-out" };
        _fanout.Start();
    }

    /// <summary>Gets how many watchers the last fan-out answered and how long it took to hand them their answers.</summary>
    public (int Answered, TimeSpan Took) LastFanOut
    {
        get
        {
            lock (_lock)
            {
                return _lastFanOut;
            }
        }
    }

    /// <summary>Gets the number of watchers parked now.</summary>
    public int Parked => Volatile.Read(ref _parked);

    /// <summary>Takes one of the places (<c>Meshd:Limits:MaxWatchers</c>); false when all are taken. <see cref="Park"/> uses it.</summary>
    public bool TryTakePlace()
    {
        if (Interlocked.Increment(ref _parked) > _max)
        {
            Interlocked.Decrement(ref _parked);
            return false;
        }

        return true;
    }

    /// <summary>
    /// Parks a watcher of <paramref name="version"/> in a place taken with <see cref="TryTakePlace"/> (given back when it
    /// completes). One whose version is no longer the current one completes at once as changed.
    /// </summary>
    public Watcher Park(long version, TimeSpan wait)
    {
        var now = _time.GetTimestamp();
        var deadline = now + (long)(wait.TotalSeconds * _time.TimestampFrequency);
        var watcher = new Watcher(this, deadline);
        WatchOutcome? at;
        lock (_lock)
        {
            at = _stopped ? WatchOutcome.Stopped : version != _version ? WatchOutcome.Changed : deadline <= now ? WatchOutcome.TimedOut : null;
            if (at is null)
            {
                Add(_current, watcher);
                _deadlines.Enqueue(watcher, deadline);
                if (_deadlines.Count > (2 * _parked) + 1024)
                {
                    // Completed watchers leave the deadline queue lazily; rebuilt before they outnumber the parked ones.
                    var live = _deadlines.UnorderedItems.Where(e => !e.Element.IsDone).ToList();
                    _deadlines.Clear();
                    _deadlines.EnqueueRange(live);
                }

                if (deadline < _armedFor)
                {
                    Arm(now, deadline);
                }
            }
        }

        if (at is { } outcome)
        {
            watcher.TryComplete(outcome, inline: false);
        }

        return watcher;
    }

    /// <summary>
    /// A newer snapshot is the current one: every watcher parked on the one before is answered by the fan-out thread.
    /// The caller signals its writers first, so the write's acknowledgement never waits behind the fan-out.
    /// </summary>
    public void Publish(long version)
    {
        lock (_lock)
        {
            _version = version;
            if (_current.Count == 0)
            {
                return;
            }

            _fanouts.Enqueue(_current);
            _current = [];
        }

        _fanoutReady.Release();
    }

    /// <summary>meshd is stopping: every parked watcher, and every one that comes, is answered "no change" now.</summary>
    public void Stop()
    {
        List<Watcher> parked;
        lock (_lock)
        {
            _stopped = true;
            parked = _current;
            _current = [];
        }

        foreach (var watcher in parked)
        {
            watcher.TryComplete(WatchOutcome.Stopped, inline: false);
        }
    }

    public void Dispose()
    {
        Stop();
        lock (_lock)
        {
            _fanouts.Enqueue(null!);
        }

        _fanoutReady.Release();
        _fanout.Join(TimeSpan.FromSeconds(10));
        _timer.Dispose();
    }

    /// <summary>Called once by a watcher when it completes.</summary>
    internal void Left() => Interlocked.Decrement(ref _parked);

    private static void Add(List<Watcher> list, Watcher watcher)
    {
        // Watchers that timed out or left are dropped from the list before it doubles, so it never grows with re-parking.
        if (list.Count == list.Capacity && list.Count >= 64)
        {
            list.RemoveAll(w => w.IsDone);
        }

        list.Add(watcher);
    }

    private void Arm(long now, long deadline)
    {
        _armedFor = deadline;
        _timer.Change(_time.GetElapsedTime(now, deadline), Timeout.InfiniteTimeSpan);
    }

    private void OnDeadline()
    {
        List<Watcher>? due = null;
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            while (_deadlines.TryPeek(out var watcher, out var deadline) && deadline <= now)
            {
                _deadlines.Dequeue();
                if (!watcher.IsDone)
                {
                    (due ??= []).Add(watcher);
                }
            }

            // The next live deadline; completed watchers ahead of it are dropped on the way.
            while (_deadlines.TryPeek(out var next, out _) && next.IsDone)
            {
                _deadlines.Dequeue();
            }

            _armedFor = long.MaxValue;
            if (_deadlines.TryPeek(out _, out var earliest))
            {
                Arm(now, earliest);
            }
        }

        if (due is not null)
        {
            foreach (var watcher in due)
            {
                watcher.TryComplete(WatchOutcome.TimedOut, inline: false);
            }
        }
    }

    private void FanOutLoop()
    {
        while (true)
        {
            _fanoutReady.Wait();
            List<Watcher>? watchers;
            lock (_lock)
            {
                watchers = _fanouts.Dequeue();
            }

            if (watchers is null)
            {
                return;
            }

            // Each request resumes here and runs until its answer is in Kestrel's buffers; the sockets are written by
            // Kestrel's own threads meanwhile.
            // Two passes: every answer first, then every request's end (and so the reading of its next request) on the
            // thread pool. The watchers that come back at once would otherwise take the CPU the answers still need.
            var started = _time.GetTimestamp();
            var answered = 0;
            var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            foreach (var watcher in watchers)
            {
                answered += watcher.TryComplete(WatchOutcome.Changed, inline: true, released.Task) ? 1 : 0;
            }

            var took = _time.GetElapsedTime(started);
            released.SetResult();
            lock (_lock)
            {
                _lastFanOut = (answered, took);
            }
        }
    }
}
