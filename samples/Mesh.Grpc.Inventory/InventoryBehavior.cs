using System.Collections.Concurrent;
using Grpc.Core;

namespace Mesh.Grpc.Inventory;

/// <summary>What one inventory instance does: its name, scripted failures, a delay, and what it saw of its calls.</summary>
public sealed class InventoryBehavior(string instance)
{
    private readonly ConcurrentQueue<(StatusCode Status, string? Pushback)> _failures = new();
    private long _calls;
    private long _cancelled;
    private int _aborts;

    /// <summary>Gets the name the instance answers with.</summary>
    public string Instance { get; } = instance;

    /// <summary>Gets or sets how long each call waits before answering.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Gets the calls received.</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>Gets the calls whose caller went away before the answer.</summary>
    public long Cancelled => Interlocked.Read(ref _cancelled);

    /// <summary>Gets the grpc-timeout header values received, in order.</summary>
    public ConcurrentQueue<string> Timeouts { get; } = new();

    /// <summary>Gets the grpc-previous-rpc-attempts header values received, in order.</summary>
    public ConcurrentQueue<string> PreviousAttempts { get; } = new();

    /// <summary>Makes the next calls fail with these statuses, in order.</summary>
    public void FailNext(params StatusCode[] statuses)
    {
        ArgumentNullException.ThrowIfNull(statuses);
        foreach (var status in statuses)
        {
            _failures.Enqueue((status, null));
        }
    }

    /// <summary>Makes the next call fail with <paramref name="status"/> and ask, in grpc-retry-pushback-ms, for <paramref name="pushback"/>.</summary>
    public void FailNextWithPushback(StatusCode status, string pushback) => _failures.Enqueue((status, pushback));

    /// <summary>Makes the next <paramref name="count"/> calls break their connection instead of answering.</summary>
    public void AbortNext(int count) => Interlocked.Add(ref _aborts, count);

    internal bool NextAbort()
    {
        if (Interlocked.Decrement(ref _aborts) >= 0)
        {
            return true;
        }

        Interlocked.Increment(ref _aborts); // nothing was asked for: undo
        return false;
    }

    internal (StatusCode Status, string? Pushback)? NextFailure() => _failures.TryDequeue(out var failure) ? failure : null;

    internal void Seen(ServerCallContext context)
    {
        Interlocked.Increment(ref _calls);
        var headers = context.GetHttpContext().Request.Headers;
        if (headers.TryGetValue("grpc-timeout", out var timeout))
        {
            Timeouts.Enqueue(timeout.ToString());
        }

        if (headers.TryGetValue("grpc-previous-rpc-attempts", out var previous))
        {
            PreviousAttempts.Enqueue(previous.ToString());
        }

        context.CancellationToken.Register(() => Interlocked.Increment(ref _cancelled));
    }
}
