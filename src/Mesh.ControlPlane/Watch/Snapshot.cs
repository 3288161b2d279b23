namespace Meshd.Watch;

/// <summary>One immutable version of the mesh, serialized once and served as the same bytes to every watcher.</summary>
internal sealed record Snapshot(long Version, byte[] Utf8Json);

/// <summary>The current snapshot and the signal that completes when the next one replaces it.</summary>
internal sealed class SnapshotHead(Snapshot snapshot)
{
    private readonly TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Snapshot Snapshot { get; } = snapshot;

    /// <summary>Gets a task that completes when a newer snapshot is published.</summary>
    public Task Changed => _changed.Task;

    public void Supersede() => _changed.TrySetResult();
}
