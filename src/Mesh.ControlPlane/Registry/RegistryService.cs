using Mesh.ControlPlane.Contract;
using Meshd.Storage;
using Meshd.Watch;

namespace Meshd.Registry;

/// <summary>
/// Registers, renews and removes instances with compare-and-set writes, so replicas never fight. Within one meshd the
/// writes of one instance take turns, so a race between its clients is never a conflict; and a new instance is only
/// taken while its service is under <c>Meshd:Limits:MaxInstancesPerService</c> and the snapshot under
/// <c>Meshd:Limits:MaxSnapshotBytes</c>, counting the registrations still in flight.
/// </summary>
internal sealed class RegistryService(IKeyValueStore store, MeshState state, TimeProvider time, MeshdSettings settings) : IDisposable
{
    private const int Attempts = 8;
    private const int Stripes = 64;

    private readonly SemaphoreSlim[] _turns = [.. Enumerable.Range(0, Stripes).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly Lock _pendingLock = new();
    private readonly Dictionary<string, int> _pendingNew = new(StringComparer.Ordinal);
    private long _pendingBytes;

    public TimeSpan LeaseTtl => settings.LeaseTtl;

    /// <summary>Registers an instance; the lease, or why it was refused at a limit.</summary>
    public async Task<(LeaseRecord? Lease, Refusal? Refusal)> RegisterAsync(string service, InstanceDocument instance, CancellationToken cancellationToken)
    {
        var key = StoreKeys.Instance(service, instance.InstanceId);
        var value = Instances.ToUtf8(instance);
        if (value.Length > settings.Limits.MaxValueBytes)
        {
            return (null, new Refusal(StatusCodes.Status413PayloadTooLarge, $"The registration is {value.Length} bytes stored, over {settings.Limits.MaxValueBytes} (Meshd:Limits:MaxValueBytes): use fewer or shorter labels.", null));
        }

        var turn = Turn(key);
        await turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 0; attempt < Attempts; attempt++)
            {
                var existing = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
                var lease = new LeaseRecord(time.GetUtcNow() + settings.LeaseTtl);
                var leaseOp = StoreOperation.Put(StoreKeys.Lease(service, instance.InstanceId), lease.ToUtf8(), durable: false);
                var unchanged = existing is not null && existing.Value.AsSpan().SequenceEqual(value);
                StoreOperation[] operations = unchanged ? [leaseOp] : [StoreOperation.Put(key, value), leaseOp];
                var grows = unchanged ? 0 : value.Length + 2 - (existing?.Value.Length ?? 0);
                if (Reserve(service, isNew: existing is null, grows) is { } refusal)
                {
                    return (null, refusal);
                }

                StoreCommit commit;
                try
                {
                    commit = await store.CommitAsync([new StoreCompare(key, existing?.ModRevision ?? 0)], operations, cancellationToken).ConfigureAwait(false);
                    if (commit.Succeeded)
                    {
                        await state.WaitForRevisionAsync(commit.Revision, cancellationToken).ConfigureAwait(false);
                        return (lease, null);
                    }
                }
                finally
                {
                    Release(service, isNew: existing is null, grows);
                }

                // Another replica wrote the instance meanwhile: back off a little, with jitter, and read it again.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 5 + (attempt * 5))), time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            turn.Release();
        }

        throw new ConflictException($"Instance '{instance.InstanceId}' of service '{service}' kept changing while it was being registered; try again.");
    }

    public void Dispose()
    {
        foreach (var turn in _turns)
        {
            turn.Dispose();
        }
    }

    private SemaphoreSlim Turn(string key) => _turns[(int)((uint)key.GetHashCode(StringComparison.Ordinal) % Stripes)];

    private Refusal? Reserve(string service, bool isNew, long grows)
    {
        var limits = settings.Limits;
        lock (_pendingLock)
        {
            var pending = _pendingNew.GetValueOrDefault(service);
            if (isNew && state.InstanceCount(service) + pending >= limits.MaxInstancesPerService)
            {
                return new Refusal(
                    StatusCodes.Status429TooManyRequests,
                    $"Service '{service}' has {limits.MaxInstancesPerService} instances, its limit (Meshd:Limits:MaxInstancesPerService); nothing was stored. Instances that stop renewing lapse within {settings.LeaseTtl.TotalSeconds:0.###} s.",
                    settings.LeaseTtl);
            }

            if (grows > 0 && state.Head.Snapshot.Utf8Json.Length + _pendingBytes + grows > limits.MaxSnapshotBytes)
            {
                return new Refusal(
                    StatusCodes.Status503ServiceUnavailable,
                    $"The snapshot would grow past {limits.MaxSnapshotBytes} bytes (Meshd:Limits:MaxSnapshotBytes); nothing was stored.",
                    settings.LeaseTtl);
            }

            if (isNew)
            {
                _pendingNew[service] = pending + 1;
            }

            _pendingBytes += Math.Max(0, grows);
            return null;
        }
    }

    private void Release(string service, bool isNew, long grows)
    {
        lock (_pendingLock)
        {
            if (isNew && _pendingNew.TryGetValue(service, out var pending))
            {
                if (pending <= 1)
                {
                    _pendingNew.Remove(service);
                }
                else
                {
                    _pendingNew[service] = pending - 1;
                }
            }

            _pendingBytes -= Math.Max(0, grows);
        }
    }

    /// <summary>Renews a lease; null when the instance is not registered (its lease lapsed).</summary>
    public async Task<LeaseRecord?> RenewAsync(string service, string instanceId, CancellationToken cancellationToken)
    {
        var key = StoreKeys.Instance(service, instanceId);
        var turn = Turn(key);
        await turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RenewOnceAsync(service, instanceId, key, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            turn.Release();
        }
    }

    private async Task<LeaseRecord?> RenewOnceAsync(string service, string instanceId, string key, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var existing = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            if (existing is null)
            {
                return null;
            }

            // Compared with the instance, so a renewal never brings back an instance removed meanwhile.
            var lease = new LeaseRecord(time.GetUtcNow() + settings.LeaseTtl);
            var commit = await store.CommitAsync(
                [new StoreCompare(key, existing.ModRevision)],
                [StoreOperation.Put(StoreKeys.Lease(service, instanceId), lease.ToUtf8(), durable: false)],
                cancellationToken).ConfigureAwait(false);
            if (commit.Succeeded)
            {
                return lease;
            }
        }

        throw new ConflictException($"Instance '{instanceId}' of service '{service}' kept changing while its lease was being renewed; try again.");
    }

    public async Task DeregisterAsync(string service, string instanceId, CancellationToken cancellationToken)
    {
        var key = StoreKeys.Instance(service, instanceId);
        var turn = Turn(key);
        await turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await DeregisterOnceAsync(service, instanceId, key, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            turn.Release();
        }
    }

    private async Task DeregisterOnceAsync(string service, string instanceId, string key, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var existing = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            if (existing is null)
            {
                return;
            }

            var commit = await store.CommitAsync(
                [new StoreCompare(key, existing.ModRevision)],
                [StoreOperation.Delete(key), StoreOperation.Delete(StoreKeys.Lease(service, instanceId))],
                cancellationToken).ConfigureAwait(false);
            if (commit.Succeeded)
            {
                await state.WaitForRevisionAsync(commit.Revision, cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        throw new ConflictException($"Instance '{instanceId}' of service '{service}' kept changing while it was being removed; try again.");
    }

    /// <summary>Removes the instances whose lease lapsed; a removal only succeeds when nobody renewed meanwhile.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var removed = 0;
        foreach (var expired in state.GetExpired(time.GetUtcNow()))
        {
            var instanceKey = StoreKeys.Instance(expired.Service, expired.InstanceId);
            var leaseKey = StoreKeys.Lease(expired.Service, expired.InstanceId);
            var commit = await store.CommitAsync(
                [new StoreCompare(instanceKey, expired.InstanceRevision), new StoreCompare(leaseKey, expired.LeaseRevision)],
                [StoreOperation.Delete(instanceKey), StoreOperation.Delete(leaseKey)],
                cancellationToken).ConfigureAwait(false);
            removed += commit.Succeeded ? 1 : 0;
        }

        return removed;
    }
}

/// <summary>A write lost too many compare-and-set races in a row.</summary>
internal sealed class ConflictException(string message) : Exception(message);
