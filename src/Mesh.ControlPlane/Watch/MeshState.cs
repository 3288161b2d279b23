using System.Security.Cryptography;
using System.Text.Json;
using Mesh.ControlPlane.Contract;
using Mesh.Identity;
using Meshd.Policies;
using Meshd.Registry;
using Meshd.Storage;

namespace Meshd.Watch;

/// <summary>
/// The in-memory view of the store, built from a listing and then from the store's watch, so every replica on one
/// store converges on the same state. Each change of the registry or of a policy publishes a new
/// <see cref="Snapshot"/> whose version is the store revision of that change (lease renewals change no snapshot).
/// </summary>
internal sealed partial class MeshState : IAsyncDisposable
{
    private readonly IKeyValueStore _store;
    private readonly TimeProvider _time;
    private static readonly JsonElement s_noPolicy = JsonDocument.Parse("{}").RootElement.Clone();

    private readonly TimeSpan _leaseTtl;

    // Leases kept from before this meshd started (a restart, or an outage longer than a TTL) get one TTL from the start
    // to be renewed, so a meshd coming back never empties the mesh of instances that are still running.
    private DateTimeOffset _graceUntil;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<string, SortedDictionary<string, InstanceState>> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LeaseState> _leases = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PolicyRecord> _policies = new(StringComparer.Ordinal);
    private TrustBundleDocument? _trustBundle;
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SnapshotHead _head = new(new Snapshot(0, "{\"version\":0,\"services\":{}}"u8.ToArray()));
    private readonly HashSet<(string Key, long ModRevision)> _reported = [];
    private readonly WatcherSet _watchers;
    private long _applied;
    private Task? _loop;
    private int _disposed;
    private string? _watchFailure;

    public MeshState(IKeyValueStore store, TimeProvider time, TimeSpan leaseTtl, ILogger<MeshState> logger)
        : this(store, time, leaseTtl, int.MaxValue, logger)
    {
    }

    public MeshState(IKeyValueStore store, TimeProvider time, TimeSpan leaseTtl, int maxWatchers, ILogger<MeshState> logger)
    {
        _store = store;
        _time = time;
        _leaseTtl = leaseTtl;
        _watchers = new WatcherSet(time, maxWatchers, _head.Snapshot.Version);
        _graceUntil = time.GetUtcNow() + leaseTtl;
        _logger = logger;
    }

    /// <summary>
    /// Gives every lease until <paramref name="until"/> before it counts as lapsed, as at start: after the store could not
    /// be written, the renewals it refused must not cost the instances their registration.
    /// </summary>
    public void ExtendGrace(DateTimeOffset until)
    {
        lock (_lock)
        {
            if (until > _graceUntil)
            {
                _graceUntil = until;
            }
        }
    }

    /// <summary>Gets whether the state was loaded from the store.</summary>
    public bool Loaded { get; private set; }

    /// <summary>Gets why following the store's changes fails now, or null while it follows.</summary>
    public string? WatchFailure => Volatile.Read(ref _watchFailure);

    /// <summary>Gets the number of instances of <paramref name="service"/> in the current state.</summary>
    public int InstanceCount(string service)
    {
        lock (_lock)
        {
            return _instances.TryGetValue(service, out var instances) ? instances.Count : 0;
        }
    }

    /// <summary>Gets the current snapshot with its change signal.</summary>
    public SnapshotHead Head => Volatile.Read(ref _head);

    /// <summary>Gets the number of watchers parked on the current snapshot.</summary>
    public int Waiting => _watchers.Parked;

    /// <summary>Gets how many watchers the last change answered and how long handing them their answers took.</summary>
    public (int Answered, TimeSpan Took) LastFanOut => _watchers.LastFanOut;

    /// <summary>Gets the last store revision applied.</summary>
    public long AppliedRevision => Volatile.Read(ref _applied);

    /// <summary>Loads the state from the store and starts following its changes.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await RelistAsync(cancellationToken).ConfigureAwait(false);
        Loaded = true;
        _loop = Task.Run(() => FollowAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>Waits until the changes of <paramref name="revision"/> are applied, so a writer reads its own write.</summary>
    public async Task<bool> WaitForRevisionAsync(long revision, CancellationToken cancellationToken)
    {
        var deadline = _time.GetTimestamp() + (_time.TimestampFrequency * 5);
        while (AppliedRevision < revision)
        {
            Task progress;
            lock (_lock)
            {
                progress = _progress.Task;
            }

            if (AppliedRevision >= revision)
            {
                break;
            }

            var left = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            await Task.WhenAny(progress, Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }

        return true;
    }

    /// <summary>Takes one of the parked-watcher places; false when all are taken (<c>Meshd:Limits:MaxWatchers</c>).</summary>
    public bool TryPark() => _watchers.TryTakePlace();

    /// <summary>
    /// Parks a watcher, in a place taken with <see cref="TryPark"/> (given back when it completes), until the snapshot
    /// after <paramref name="head"/> is published, <paramref name="wait"/> passes or meshd stops; the caller completes
    /// it as <see cref="WatchOutcome.Aborted"/> when its client leaves.
    /// </summary>
    public Watcher Park(SnapshotHead head, TimeSpan wait) => _watchers.Park(head.Snapshot.Version, wait);

    /// <summary>meshd is stopping: parked watchers, and those that come, are answered at once.</summary>
    public void StopWatchers() => _watchers.Stop();

    public PolicyRecord? GetPolicy(string service)
    {
        lock (_lock)
        {
            return _policies.GetValueOrDefault(service);
        }
    }

    public IReadOnlyList<KeyValuePair<string, PolicyRecord>> GetPolicies()
    {
        lock (_lock)
        {
            return _policies.Where(p => p.Value.Policy is not null).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>The instances whose lease lapsed at <paramref name="now"/>, with the revisions a removal must compare.</summary>
    public IReadOnlyList<ExpiredInstance> GetExpired(DateTimeOffset now)
    {
        var expired = new List<ExpiredInstance>();
        lock (_lock)
        {
            foreach (var (service, instances) in _instances)
            {
                foreach (var (id, instance) in instances)
                {
                    var lease = _leases.GetValueOrDefault(StoreKeys.Lease(service, id));
                    if (ExpiryLocked(service, id, instance) <= now)
                    {
                        expired.Add(new ExpiredInstance(service, id, instance.ModRevision, lease?.ModRevision ?? 0));
                    }
                }
            }
        }

        return expired;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _watchers.Dispose();
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stopping.Dispose();
    }

    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // Resumes after the last applied revision, so a broken watch loses nothing.
                await foreach (var batch in _store.WatchAsync(string.Empty, AppliedRevision + 1, cancellationToken).ConfigureAwait(false))
                {
                    Apply(batch);
                    Volatile.Write(ref _watchFailure, null);
                }
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                // Stopping: the store's watch ends with whatever its client throws on cancellation.
                return;
            }
            catch (StoreCompactedException ex)
            {
                LogCompacted(_logger, ex.Message);
                await RetryAsync(() => RelistAsync(cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Volatile.Write(ref _watchFailure, $"following the store's changes failed: {ex.Message}");
                LogWatchBroken(_logger, AppliedRevision + 1, ex);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task RetryAsync(Func<Task> action, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await action().ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Volatile.Write(ref _watchFailure, $"listing the store failed: {ex.Message}");
                LogWatchBroken(_logger, AppliedRevision + 1, ex);
                await Task.Delay(TimeSpan.FromMilliseconds(500), _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task RelistAsync(CancellationToken cancellationToken)
    {
        var listing = await _store.ListAsync(string.Empty, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var seen = _instances.SelectMany(s => s.Value.Select(i => (Key: StoreKeys.Instance(s.Key, i.Key), i.Value.FirstSeen)))
                .ToDictionary(p => p.Key, p => p.FirstSeen, StringComparer.Ordinal);
            _instances.Clear();
            _leases.Clear();
            _policies.Clear();
            _trustBundle = null;
            foreach (var entry in listing.Entries)
            {
                ApplyOne(new StoreEvent(entry.Key, entry.Value, entry.ModRevision), seen.GetValueOrDefault(entry.Key, now));
            }

            _applied = Math.Max(_applied, listing.Revision);
            Publish(Math.Max(Head.Snapshot.Version, listing.Revision));
        }
    }

    private void Apply(StoreWatchBatch batch)
    {
        lock (_lock)
        {
            long relevant = 0;
            var now = _time.GetUtcNow();
            foreach (var change in batch.Events)
            {
                if (ApplyOne(change, now))
                {
                    relevant = Math.Max(relevant, change.ModRevision);
                }
            }

            _applied = Math.Max(_applied, batch.Revision);
            if (relevant > 0)
            {
                Publish(Math.Max(relevant, Head.Snapshot.Version + 1));
            }
            else
            {
                SignalProgress();
            }
        }
    }

    /// <summary>
    /// Applies one change; true when it changes the snapshot. A value that cannot be decoded (written by something
    /// else than meshd) is logged once and counts as absent, so one bad key never stops the state from following.
    /// </summary>
    private bool ApplyOne(StoreEvent change, DateTimeOffset now)
    {
        var key = change.Key;
        if (key.StartsWith(StoreKeys.Instances, StringComparison.Ordinal))
        {
            if (!StoreKeys.TrySplit(key, StoreKeys.Instances, out var service, out var id) || Names.CheckCanonicalService(service) is not null || Names.CheckInstance(id) is not null)
            {
                return Skip(change, "the key is not instances/<service>/<instance id>", removes: false);
            }

            InstanceDocument? document = null;
            string? problem = null;
            if (change.Value is not null)
            {
                try
                {
                    document = Instances.FromUtf8(change.Value);
                    problem = document.InstanceId != id ? $"it names instance '{document.InstanceId}'" : null;
                }
                catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or ArgumentException)
                {
                    problem = ex.Message;
                }
            }

            if (change.Value is null || problem is not null)
            {
                var removed = RemoveInstance(service, id);
                return problem is null ? removed : Skip(change, problem, removed);
            }

            if (!_instances.TryGetValue(service, out var instances))
            {
                instances = new SortedDictionary<string, InstanceState>(StringComparer.Ordinal);
                _instances[service] = instances;
            }

            var existing = instances.GetValueOrDefault(id);
            var same = existing is not null && existing.Utf8.AsSpan().SequenceEqual(change.Value);
            instances[id] = new InstanceState(document!, change.Value, change.ModRevision, existing?.FirstSeen ?? now);
            return !same;
        }

        if (key.StartsWith(StoreKeys.Leases, StringComparison.Ordinal))
        {
            if (change.Value is null)
            {
                _leases.Remove(key);
                return false;
            }

            try
            {
                _leases[key] = new LeaseState(LeaseRecord.FromUtf8(change.Value).ExpiresAt, change.ModRevision);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or ArgumentException)
            {
                // Lapsed at once: the instance is swept (after the start's grace) unless it renews, which rewrites the lease.
                _leases[key] = new LeaseState(DateTimeOffset.MinValue, change.ModRevision);
                Skip(change, ex.Message, removes: false);
            }

            return false;
        }

        if (key == StoreKeys.TrustBundle)
        {
            return ApplyTrustBundle(change);
        }

        if (key.StartsWith(StoreKeys.Policies, StringComparison.Ordinal))
        {
            var name = key[StoreKeys.Policies.Length..];
            if (Names.CheckCanonicalService(name) is not null)
            {
                return Skip(change, "the key is not policies/<service>", removes: false);
            }

            if (change.Value is null)
            {
                return _policies.Remove(name);
            }

            if (!PolicyRecord.TryFromUtf8(change.Value, out var record, out var problem))
            {
                return Skip(change, problem, _policies.Remove(name));
            }

            _policies[name] = record;
            return true;
        }

        return false;
    }

    /// <summary>The CA's trust bundle, served in every snapshot, so a root rotation reaches clients through their watch.</summary>
    private bool ApplyTrustBundle(StoreEvent change)
    {
        var previous = _trustBundle;
        _trustBundle = null;
        if (change.Value is not null)
        {
            try
            {
                var document = JsonSerializer.Deserialize(change.Value, ControlPlaneJson.Default.TrustBundleDocument) ?? throw new JsonException("A trust bundle is a JSON object, not null.");

                // Read as a client would, so a bundle no client could use is never served.
                _ = TrustBundle.FromPem(document.TrustDomain, document.RootsPem, "the trust bundle in the store");
                _trustBundle = document;
            }
            catch (Exception ex) when (ex is JsonException or InvalidDataException or ArgumentException or CryptographicException)
            {
                Skip(change, ex.Message, removes: false);
            }
        }

        return previous != _trustBundle;
    }

    private bool RemoveInstance(string service, string id)
    {
        if (_instances.TryGetValue(service, out var gone) && gone.Remove(id))
        {
            if (gone.Count == 0)
            {
                _instances.Remove(service);
            }

            return true;
        }

        return false;
    }

    private bool Skip(StoreEvent change, string problem, bool removes)
    {
        // Once per key and revision, however often the state lists again; the set is bounded.
        if (_reported.Count < 4096 && _reported.Add((change.Key, change.ModRevision)))
        {
            LogUndecodable(_logger, change.Key, change.ModRevision, problem);
        }

        return removes;
    }

    private void Publish(long version)
    {
        Volatile.Write(ref _head, new SnapshotHead(new Snapshot(version, Serialize(version))));

        // The writers waiting for this revision first, then the watchers: the acknowledgement never waits behind the fan-out.
        SignalProgress();
        _watchers.Publish(version);
    }

    private void SignalProgress()
    {
        var progress = _progress;
        _progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        progress.TrySetResult();
    }

    private byte[] Serialize(long version)
    {
        var names = new SortedSet<string>(_instances.Keys, StringComparer.Ordinal);
        names.UnionWith(_policies.Where(p => p.Value.Policy is not null).Select(p => p.Key));
        var services = new SortedDictionary<string, ServiceDocument>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var policy = _policies.GetValueOrDefault(name);
            services[name] = new ServiceDocument(
                policy?.Version ?? 0,
                policy?.Policy ?? s_noPolicy,
                _instances.TryGetValue(name, out var instances) ? [.. instances.Values.Select(i => i.Document)] : []);
        }

        return JsonSerializer.SerializeToUtf8Bytes(new SnapshotDocument(version, services, _trustBundle), ControlPlaneJson.Default.SnapshotDocument);
    }

    private sealed record InstanceState(InstanceDocument Document, byte[] Utf8, long ModRevision, DateTimeOffset FirstSeen);

    private sealed record LeaseState(DateTimeOffset ExpiresAt, long ModRevision);
}

/// <summary>An instance whose lease lapsed, with the mod revisions of its keys as seen when it was found.</summary>
internal readonly record struct ExpiredInstance(string Service, string InstanceId, long InstanceRevision, long LeaseRevision);
