using System.Text.Json;
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
    /// <summary>
    /// The most bytes a report takes as JSON: under meshd's default body limit (<c>Meshd:Limits:MaxBodyBytes</c>, 64 KiB),
    /// which a report full to every count of <see cref="InstanceReportLimits"/> would pass.
    /// </summary>
    public const int MaxBytes = 60 * 1024;

    /// <summary>
    /// The report as of now, within <see cref="InstanceReportLimits"/> and <see cref="MaxBytes"/>: past the bytes, the
    /// least needed goes first (the quietest peers both ways, halved together, then ejections, overridden keys, and last
    /// the policy versions meshd judges convergence by).
    /// </summary>
    public InstanceReportDocument Build()
    {
        var report = BuildWithinCounts();
        while (JsonSerializer.SerializeToUtf8Bytes(report, ControlPlaneJson.Default.InstanceReportDocument).Length > MaxBytes && Smaller(report) is { } smaller)
        {
            report = smaller;
        }

        return report;
    }

    private static InstanceReportDocument? Smaller(InstanceReportDocument report) => report switch
    {
        { Outbound.Count: > 0 } or { Inbound.Count: > 0 } => report with { Outbound = Half(report.Outbound), Inbound = Half(report.Inbound) },
        { Ejected.Count: > 0 } => report with { Ejected = Half(report.Ejected) },
        { OverriddenKeys.Count: > 0 } => report with { OverriddenKeys = Half(report.OverriddenKeys) },
        { Policies.Count: > 0 } => report with { Policies = Half(report.Policies) },
        _ => null,
    };

    private static List<T> Half<T>(IReadOnlyList<T>? list) => list is null ? [] : [.. list.Take(list.Count / 2)];

    private InstanceReportDocument BuildWithinCounts()
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

    private static bool Fits(string name) => InboundStats.IsReportable(name);

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
