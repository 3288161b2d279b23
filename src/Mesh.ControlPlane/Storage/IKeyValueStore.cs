namespace Meshd.Storage;

/// <summary>
/// A key-value store shaped like etcd: one global revision that grows with every committed write, compare-and-set
/// transactions on the revision that last modified each key, listing by prefix, and a watch from a revision. The
/// registry, the policies and the snapshot are written above this interface, the same for every backend.
/// </summary>
internal interface IKeyValueStore : IAsyncDisposable
{
    /// <summary>Gets one key, or <see langword="null"/> when it is absent.</summary>
    Task<KeyValueEntry?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>Lists every key under <paramref name="prefix"/>, with the store revision the listing reflects.</summary>
    Task<StoreListing> ListAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>
    /// Applies every operation at one new revision when every comparison holds; otherwise changes nothing. Returns only
    /// once the write is durable (for operations marked durable).
    /// </summary>
    Task<StoreCommit> CommitAsync(IReadOnlyList<StoreCompare> compares, IReadOnlyList<StoreOperation> operations, CancellationToken cancellationToken);

    /// <summary>
    /// Streams the changes under <paramref name="prefix"/> from <paramref name="fromRevision"/> on, in revision order.
    /// Throws <see cref="StoreCompactedException"/> when that revision is no longer kept: list again, then watch on.
    /// </summary>
    IAsyncEnumerable<StoreWatchBatch> WatchAsync(string prefix, long fromRevision, CancellationToken cancellationToken);

    /// <summary>Checks that the store takes writes (file) or answers (etcd) now; throws <see cref="StoreUnavailableException"/> when not.</summary>
    Task ProbeAsync(CancellationToken cancellationToken);
}

/// <summary>One key with its value and the revision that last modified it.</summary>
internal sealed record KeyValueEntry(string Key, byte[] Value, long ModRevision);

/// <summary>The keys under a prefix as of <paramref name="Revision"/>.</summary>
internal sealed record StoreListing(long Revision, IReadOnlyList<KeyValueEntry> Entries);

/// <summary>The outcome of a transaction: whether its comparisons held, and the store revision after it.</summary>
internal readonly record struct StoreCommit(bool Succeeded, long Revision);

/// <summary>Holds when <paramref name="Key"/> was last modified at <paramref name="ModRevision"/> (0: the key is absent).</summary>
internal readonly record struct StoreCompare(string Key, long ModRevision);

/// <summary>
/// Puts <paramref name="Value"/> at <paramref name="Key"/>, or deletes the key when the value is null. A write that is
/// not <paramref name="Durable"/> may be kept in memory only by a single-node store (lease renewals).
/// </summary>
internal sealed record StoreOperation(string Key, byte[]? Value, bool Durable = true)
{
    public static StoreOperation Put(string key, byte[] value, bool durable = true) => new(key, value, durable);

    public static StoreOperation Delete(string key) => new(key, null);
}

/// <summary>One changed key: its new value (null when deleted) and the revision of the change.</summary>
internal sealed record StoreEvent(string Key, byte[]? Value, long ModRevision);

/// <summary>The changes of one or more revisions, up to <paramref name="Revision"/>.</summary>
internal sealed record StoreWatchBatch(long Revision, IReadOnlyList<StoreEvent> Events);

/// <summary>The revision a watch asked for is no longer kept by the store.</summary>
internal sealed class StoreCompactedException : Exception
{
    public StoreCompactedException()
    {
    }

    public StoreCompactedException(string message)
        : base(message)
    {
    }

    public StoreCompactedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The store cannot persist or cannot be reached now; nothing of the write was stored. The message says why.</summary>
internal sealed class StoreUnavailableException : Exception
{
    public StoreUnavailableException()
    {
    }

    public StoreUnavailableException(string message)
        : base(message)
    {
    }

    public StoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
