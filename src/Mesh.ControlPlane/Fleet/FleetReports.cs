using System.Collections.Concurrent;
using Mesh.ControlPlane.Contract;

namespace Meshd.Fleet;

/// <summary>
/// The last report of every instance, in memory only: what it runs and its last minute of traffic. A report is kept
/// while its instance is registered (a renewal that finds no instance stores nothing) and forgotten when the instance
/// is removed, so the store is bounded by the registry's limits times the largest body meshd reads.
/// </summary>
internal sealed class FleetReports(TimeProvider time)
{
    private readonly ConcurrentDictionary<(string Service, string InstanceId), Received> _reports = new();

    /// <summary>Keeps an instance's report, replacing the one before.</summary>
    public void Keep(string service, string instanceId, InstanceReportDocument report) =>
        _reports[(service, instanceId)] = new Received(time.GetUtcNow(), report);

    /// <summary>Forgets an instance's report (it was removed).</summary>
    public void Forget(string service, string instanceId) => _reports.TryRemove((service, instanceId), out _);

    /// <summary>The instance's last report, or <see langword="null"/> when it sent none.</summary>
    public Received? Find(string service, string instanceId) => _reports.GetValueOrDefault((service, instanceId));

    /// <summary>Every report kept now, with the instance it came from.</summary>
    public IEnumerable<KeyValuePair<(string Service, string InstanceId), Received>> All => _reports;

    /// <summary>Forgets the reports of instances no longer registered.</summary>
    /// <param name="isRegistered">Whether an instance is registered now.</param>
    public void Prune(Func<string, string, bool> isRegistered)
    {
        foreach (var ((service, instanceId), _) in _reports)
        {
            if (!isRegistered(service, instanceId))
            {
                _reports.TryRemove((service, instanceId), out _);
            }
        }
    }

    /// <summary>A report and when meshd received it.</summary>
    internal sealed record Received(DateTimeOffset At, InstanceReportDocument Report);
}
