using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Meshd.Storage;

/// <summary>
/// The single-node store: the whole state in memory and in one file, <c>store.json</c>. Every write that carries a
/// durable operation writes the new file beside the old one, flushes it to disk, renames it over the old one and
/// flushes the directory, and only then answers; so after a crash at any point the file is the old state or the new
/// one, never a mix, and every acknowledged write is in it. Writes are serialized; the transactions waiting while the
/// file is written are committed together by the next write of the file (group commit).
/// </summary>
internal sealed partial class FileKeyValueStore : IKeyValueStore
{
    internal const string FileName = "store.json";
    private const string TempSuffix = ".tmp";
    private const int HistoryLimit = 8192;
    private const int MaxGroup = 512;

    private readonly string _directory;
    private readonly string _path;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly Lock _watchLock = new();
    private readonly Queue<StoreWatchBatch> _history = new();
    private readonly List<Channel<StoreWatchBatch>> _watchers = [];
    private readonly Channel<PendingCommit> _queue = Channel.CreateUnbounded<PendingCommit>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private Dictionary<string, Entry> _data;
    private long _revision;
    private long _oldestWatchable;
    private string? _persistFailure;

    private FileKeyValueStore(string directory, Dictionary<string, Entry> data, long revision)
    {
        _directory = directory;
        _path = Path.Combine(directory, FileName);
        _data = data;
        _revision = revision;
        _oldestWatchable = revision + 1;
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>
    /// Opens the store in <paramref name="directory"/>, creating it (owner-only) when absent; leftover temporary files
    /// are removed. A file that is damaged, changed outside meshd (its checksum does not match) or inconsistent stops
    /// the start with <see cref="MeshdStartupException"/> naming the file and what to do.
    /// </summary>
    public static FileKeyValueStore Open(string directory, ILogger logger)
    {
        CreateOwnerOnlyDirectory(directory);
        foreach (var leftover in Directory.EnumerateFiles(directory, FileName + "*" + TempSuffix))
        {
            // A write that crashed before its rename was never acknowledged.
            File.Delete(leftover);
        }

        var path = Path.Combine(directory, FileName);
        var data = new Dictionary<string, Entry>(StringComparer.Ordinal);
        long revision = 0;
        if (File.Exists(path))
        {
            MakeOwnerOnly(path);
            bool checksummed;
            (revision, checksummed) = StoreFile.Read(path, File.ReadAllBytes(path), (key, value, modRevision) => data[key] = new Entry(value, modRevision, Durable: true));
            LogLoaded(logger, data.Count, revision, path);
            if (!checksummed)
            {
                LogNoChecksum(logger, path);
            }
        }

        return new FileKeyValueStore(directory, data, revision);
    }

    /// <summary>Gets the last failure to write the file, or null when the last write succeeded.</summary>
    public string? PersistFailure => Volatile.Read(ref _persistFailure);

    /// <summary>Writes, flushes and removes a small file beside the store, to learn whether the data directory takes writes now.</summary>
    public Task ProbeAsync(CancellationToken cancellationToken)
    {
        var probe = Path.Combine(_directory, ".probe" + TempSuffix);
        try
        {
            using (var stream = new FileStream(probe, OwnerOnly(FileMode.Create)))
            {
                stream.WriteByte(1);
                stream.Flush(flushToDisk: true);
            }

            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StoreUnavailableException($"the data directory '{Path.GetFullPath(_directory)}' does not take writes: {ex.Message}", ex);
        }

        return Task.CompletedTask;
    }

    public Task<KeyValueEntry?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var data = Volatile.Read(ref _data);
        return Task.FromResult(data.TryGetValue(key, out var entry) ? new KeyValueEntry(key, entry.Value, entry.ModRevision) : null);
    }

    public async Task<StoreListing> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        // Under the write gate, so the revision matches the entries.
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var entries = _data.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal))
                .OrderBy(p => p.Key, StringComparer.Ordinal)
                .Select(p => new KeyValueEntry(p.Key, p.Value.Value, p.Value.ModRevision))
                .ToList();
            return new StoreListing(_revision, entries);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public Task<StoreCommit> CommitAsync(IReadOnlyList<StoreCompare> compares, IReadOnlyList<StoreOperation> operations, CancellationToken cancellationToken)
    {
        var pending = new PendingCommit(compares, operations, new TaskCompletionSource<StoreCommit>(TaskCreationOptions.RunContinuationsAsynchronously));
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(pending), this);

        // Like an etcd request, a write whose caller gives up may still be committed.
        return pending.Done.Task.WaitAsync(cancellationToken);
    }

    public async IAsyncEnumerable<StoreWatchBatch> WatchAsync(string prefix, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<StoreWatchBatch>(new UnboundedChannelOptions { SingleReader = true });
        lock (_watchLock)
        {
            if (fromRevision < _oldestWatchable)
            {
                throw new StoreCompactedException($"Revision {fromRevision} is no longer kept (oldest: {_oldestWatchable}).");
            }

            foreach (var batch in _history)
            {
                if (batch.Revision >= fromRevision)
                {
                    channel.Writer.TryWrite(batch);
                }
            }

            _watchers.Add(channel);
        }

        try
        {
            await foreach (var batch in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var events = batch.Events.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal)).ToList();
                yield return new StoreWatchBatch(batch.Revision, events);
            }
        }
        finally
        {
            lock (_watchLock)
            {
                _watchers.Remove(channel);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        lock (_watchLock)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryComplete();
            }
        }
    }

    private async Task WriteLoopAsync()
    {
        var group = new List<PendingCommit>();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            while (group.Count < MaxGroup && _queue.Reader.TryRead(out var pending))
            {
                group.Add(pending);
            }

            await _writeGate.WaitAsync().ConfigureAwait(false);
            try
            {
                CommitGroup(group);
            }
            catch (Exception ex)
            {
                // The loop must outlive any one group, or every later writer would wait forever.
                foreach (var pending in group)
                {
                    pending.Done.TrySetException(ex);
                }
            }
            finally
            {
                _writeGate.Release();
            }
        }
    }

    /// <summary>
    /// Commits every waiting transaction in order, each at its own revision, with one write of the file for all of
    /// them (group commit): none is answered before the file holding it is on disk.
    /// </summary>
    private void CommitGroup(List<PendingCommit> group)
    {
        var next = new Dictionary<string, Entry>(_data, StringComparer.Ordinal);
        var revision = _revision;
        var durable = false;
        var outcomes = new List<(PendingCommit Pending, StoreCommit Commit, StoreWatchBatch? Batch)>(group.Count);
        foreach (var pending in group)
        {
            if (!pending.Compares.All(c => (next.TryGetValue(c.Key, out var entry) ? entry.ModRevision : 0) == c.ModRevision))
            {
                outcomes.Add((pending, new StoreCommit(false, revision), null));
                continue;
            }

            revision++;
            var events = new List<StoreEvent>(pending.Operations.Count);
            foreach (var operation in pending.Operations)
            {
                durable |= operation.Durable;
                if (operation.Value is null)
                {
                    if (next.Remove(operation.Key, out var removed))
                    {
                        durable |= removed.Durable;
                        events.Add(new StoreEvent(operation.Key, null, revision));
                    }
                }
                else
                {
                    next[operation.Key] = new Entry(operation.Value, revision, operation.Durable);
                    events.Add(new StoreEvent(operation.Key, operation.Value, revision));
                }
            }

            outcomes.Add((pending, new StoreCommit(true, revision), new StoreWatchBatch(revision, events)));
        }

        if (durable)
        {
            try
            {
                Persist(next, revision);
            }
            catch (Exception ex)
            {
                // Nothing of the group is applied: the file and the memory still hold the state before it.
                foreach (var (pending, _, _) in outcomes)
                {
                    pending.Done.TrySetException(ex);
                }

                return;
            }
        }

        Volatile.Write(ref _data, next);
        _revision = revision;
        foreach (var (_, _, batch) in outcomes)
        {
            if (batch is not null)
            {
                Publish(batch);
            }
        }

        foreach (var (pending, commit, _) in outcomes)
        {
            pending.Done.TrySetResult(commit);
        }
    }

    private void Publish(StoreWatchBatch batch)
    {
        lock (_watchLock)
        {
            _history.Enqueue(batch);
            while (_history.Count > HistoryLimit)
            {
                _oldestWatchable = _history.Dequeue().Revision + 1;
            }

            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryWrite(batch);
            }
        }
    }

    private void Persist(Dictionary<string, Entry> data, long revision)
    {
        var temp = _path + "." + Guid.NewGuid().ToString("N") + TempSuffix;
        try
        {
            var content = StoreFile.Write(revision, data.Where(p => p.Value.Durable).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value.Value, p.Value.ModRevision)));
            using (var stream = new FileStream(temp, OwnerOnly(FileMode.CreateNew)))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, _path, overwrite: true);
            DirectorySync.Flush(_directory);
            Volatile.Write(ref _persistFailure, null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            var failure = $"meshd could not write {Path.GetFullPath(_path)}: {ex.Message}";
            Volatile.Write(ref _persistFailure, failure);
            throw new StoreUnavailableException(failure + " Nothing of this write was stored; check that the data directory exists, is writable and has space.", ex);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The directory itself is gone or read-only; a leftover is removed at the next start.
        }
    }

    private static FileStreamOptions OwnerOnly(FileMode mode)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return options;
    }

    private static void MakeOwnerOnly(string path)
    {
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite)) != 0)
        {
            // A file left readable by others (as older versions wrote it) holds every registration and policy.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static void CreateOwnerOnlyDirectory(string directory)
    {
        if (Directory.Exists(directory))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private sealed record Entry(byte[] Value, long ModRevision, bool Durable);

    private sealed record PendingCommit(IReadOnlyList<StoreCompare> Compares, IReadOnlyList<StoreOperation> Operations, TaskCompletionSource<StoreCommit> Done);
}
