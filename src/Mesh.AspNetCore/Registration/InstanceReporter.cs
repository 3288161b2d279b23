using Mesh.AspNetCore.Endpoints;
using Mesh.AspNetCore.Telemetry;
using Mesh.Configuration;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Contract;
using Mesh.Identity;
using Mesh.Pipeline;
using Mesh.Telemetry;

namespace Mesh.AspNetCore.Registration;

/// <summary>
/// Builds what this instance tells meshd with each lease renewal (<see cref="InstanceReportDocument"/>): the snapshot and
/// policy versions it applied, the keys it sets itself over meshd's (names only, never values), its certificate's expiry,
/// the last minute of traffic each way as raw counts, and the endpoints it keeps ejected. Built once per renewal from
/// what the mesh already holds; every list is cut to <see cref="InstanceReportLimits"/>, busiest peers first.
/// </summary>
internal sealed class InstanceReporter(
    ControlPlaneWatcher watcher,
    ServiceCatalog catalog,
    MeshConfigurationRoot configuration,
    WorkloadCertificate workload,
    MeshStats outbound,
    InboundStats inbound,
    TimeProvider time)
{
    public InstanceReportDocument Build()
    {
        var snapshot = watcher.Current;
        var services = catalog.ServiceNames.Where(Fits).Order(StringComparer.Ordinal).ToList();
        var policies = new List<AppliedPolicyDocument>();
        foreach (var name in services)
        {
            if (policies.Count < InstanceReportLimits.Policies && snapshot.PolicyVersions.TryGetValue(name, out var version))
            {
                policies.Add(new AppliedPolicyDocument(name, version));
            }
        }

        return new InstanceReportDocument(
            snapshot.Version,
            policies,
            [.. MeshConfigView.OverriddenKeys(configuration).Where(Fits).Take(InstanceReportLimits.OverriddenKeys)],
            workload.Latest?.NotAfter,
            Traffic(outbound.GetCounts()),
            Traffic(inbound.GetCounts()),
            Ejected(services, snapshot));
    }

    private static bool Fits(string name) => name.Length is > 0 and <= InstanceReportLimits.NameLength;

    /// <summary>The busiest peers first (the window sorts them so), as counts meshd can add up.</summary>
    private static List<TrafficDocument> Traffic(IReadOnlyList<TrafficCounts> counts)
    {
        var traffic = new List<TrafficDocument>(Math.Min(counts.Count, InstanceReportLimits.Peers));
        foreach (var peer in counts)
        {
            if (traffic.Count == InstanceReportLimits.Peers)
            {
                break;
            }

            if (Fits(peer.Peer))
            {
                traffic.Add(new TrafficDocument(peer.Peer, peer.Requests, peer.Successes, peer.Seconds, peer.TrimmedLatency()));
            }
        }

        return traffic;
    }

    private List<EjectedEndpointDocument> Ejected(List<string> services, ControlPlaneSnapshot snapshot)
    {
        var now = time.GetTimestamp();
        var ejected = new List<EjectedEndpointDocument>();
        foreach (var name in services)
        {
            if (!catalog.TryGetService(name, out var service))
            {
                continue;
            }

            foreach (var endpoint in service.Destination.Endpoints)
            {
                if (ejected.Count == InstanceReportLimits.Ejected)
                {
                    return ejected;
                }

                if (endpoint.Ejection.IsEjected(now))
                {
                    ejected.Add(new EjectedEndpointDocument(name, AsInSnapshot(snapshot, name, endpoint.Endpoint.Address)));
                }
            }
        }

        return ejected;
    }

    /// <summary>The address meshd registered for the endpoint (the catalog may dial it at another scheme); its own when meshd has none.</summary>
    private static string AsInSnapshot(ControlPlaneSnapshot snapshot, string service, Uri dialed)
    {
        if (snapshot.Instances.TryGetValue(service, out var instances))
        {
            foreach (var instance in instances)
            {
                if (instance.Address.Port == dialed.Port && string.Equals(instance.Address.Host, dialed.Host, StringComparison.OrdinalIgnoreCase))
                {
                    return instance.Address.GetLeftPart(UriPartial.Authority);
                }
            }
        }

        return dialed.GetLeftPart(UriPartial.Authority);
    }
}
