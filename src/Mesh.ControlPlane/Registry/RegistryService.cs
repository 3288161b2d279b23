using Mesh.ControlPlane.Contract;
using Meshd.Storage;
using Meshd.Watch;

namespace Meshd.Registry;

/// <summary>Registers, renews and removes instances with compare-and-set writes, so replicas never fight.</summary>
internal sealed class RegistryService(IKeyValueStore store, MeshState state, TimeProvider time, MeshdSettings settings)
{
    private const int Attempts = 8;

    public TimeSpan LeaseTtl => settings.LeaseTtl;

    public async Task<LeaseRecord> RegisterAsync(string service, InstanceDocument instance, CancellationToken cancellationToken)
    {
        var key = StoreKeys.Instance(service, instance.InstanceId);
        var value = Instances.ToUtf8(instance);
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var existing = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            var lease = new LeaseRecord(time.GetUtcNow() + settings.LeaseTtl);
            var leaseOp = StoreOperation.Put(StoreKeys.Lease(service, instance.InstanceId), lease.ToUtf8(), durable: false);
            StoreOperation[] operations = existing is not null && existing.Value.AsSpan().SequenceEqual(value)
                ? [leaseOp]
                : [StoreOperation.Put(key, value), leaseOp];
            var commit = await store.CommitAsync([new StoreCompare(key, existing?.ModRevision ?? 0)], operations, cancellationToken).ConfigureAwait(false);
            if (commit.Succeeded)
            {
                await state.WaitForRevisionAsync(commit.Revision, cancellationToken).ConfigureAwait(false);
                return lease;
            }
        }

        throw new ConflictException($"Instance '{instance.InstanceId}' of service '{service}' kept changing while it was being registered; try again.");
    }

    /// <summary>Renews a lease; null when the instance is not registered (its lease lapsed).</summary>
    public async Task<LeaseRecord?> RenewAsync(string service, string instanceId, CancellationToken cancellationToken)
    {
        var key = StoreKeys.Instance(service, instanceId);
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
