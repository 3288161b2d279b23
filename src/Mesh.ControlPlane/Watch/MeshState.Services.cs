using Mesh.ControlPlane.Contract;
using Meshd.Storage;

namespace Meshd.Watch;

/// <summary>The services meshd knows, for <c>GET /v1/services</c>.</summary>
internal sealed partial class MeshState
{
    /// <summary>
    /// Every service with a registered instance or a policy, ordered by name, each with its instances and their lease
    /// expiry. As large as the snapshot at most, so bounded by the same limits (<c>Meshd:Limits:MaxInstancesPerService</c>,
    /// <c>Meshd:Limits:MaxSnapshotBytes</c>).
    /// </summary>
    public IReadOnlyList<ServiceStatusDocument> GetServices()
    {
        lock (_lock)
        {
            var names = new SortedSet<string>(_instances.Keys, StringComparer.Ordinal);
            foreach (var (name, policy) in _policies)
            {
                if (policy.Policy is not null)
                {
                    names.Add(name);
                }
            }

            return [.. names.Select(ServiceLocked)];
        }
    }

    /// <summary>One service, or <see langword="null"/> when it has neither an instance nor a policy.</summary>
    public ServiceStatusDocument? GetService(string service)
    {
        lock (_lock)
        {
            return _instances.ContainsKey(service) || _policies.GetValueOrDefault(service)?.Policy is not null ? ServiceLocked(service) : null;
        }
    }

    private ServiceStatusDocument ServiceLocked(string service)
    {
        var policy = _policies.GetValueOrDefault(service);
        var instances = new List<InstanceStatusDocument>();
        if (_instances.TryGetValue(service, out var registered))
        {
            foreach (var (id, instance) in registered)
            {
                var document = instance.Document;
                var lease = _leases.GetValueOrDefault(StoreKeys.Lease(service, id));
                instances.Add(new InstanceStatusDocument(
                    id,
                    document.Address,
                    ExpiryLocked(service, id, instance),
                    document.Zone,
                    document.Labels,
                    document.Weight,
                    document.Identity,
                    LeaseRenewedAt: lease is null || lease.ExpiresAt == DateTimeOffset.MinValue ? null : lease.ExpiresAt - _leaseTtl));
            }
        }

        return new ServiceStatusDocument(service, policy?.Policy is null ? null : policy.Version, instances);
    }

    // The time the sweeper removes the instance at, unless renewed: its lease, or one TTL from when it was first seen,
    // and never before the grace period of a meshd that just started.
    private DateTimeOffset ExpiryLocked(string service, string instanceId, InstanceState instance)
    {
        var lease = _leases.GetValueOrDefault(StoreKeys.Lease(service, instanceId));
        var expiresAt = lease?.ExpiresAt ?? instance.FirstSeen + _leaseTtl;
        return expiresAt < _graceUntil ? _graceUntil : expiresAt;
    }
}
