using Mesh.ControlPlane.Contract;
using Meshd.Watch;

namespace Meshd.Fleet;

/// <summary>
/// The fleet as meshd serves it: the registry's services joined with their instances' last reports (what each runs,
/// whether it lags meshd's policies, who ejects it, who calls the service), and the golden metrics added up per service
/// and per caller → service edge. Traffic counts only from reports received within the last minute.
/// </summary>
internal sealed class FleetView(MeshState state, FleetReports reports, TimeProvider time)
{
    /// <summary>How old a report's traffic may be and still count.</summary>
    internal static readonly TimeSpan TrafficAge = TimeSpan.FromSeconds(60);

    internal const string ClientSource = "client";
    internal const string ServerSource = "server";

    private FleetReports Reports => reports;

    private TimeProvider Time => time;

    public IReadOnlyList<ServiceStatusDocument> GetServices()
    {
        var services = state.GetServices();
        Prune(services);
        var context = new Context(this, state.GetPolicies());
        return [.. services.Select(context.Decorate)];
    }

    public ServiceStatusDocument? GetService(string service)
    {
        var found = state.GetService(service);
        return found is null ? null : new Context(this, state.GetPolicies()).Decorate(found);
    }

    public FleetStatsDocument GetStats()
    {
        Prune(state.GetServices());
        var now = time.GetUtcNow();
        var services = new SortedDictionary<string, (HashSet<string> Instances, LatencyHistogram Traffic)>(StringComparer.Ordinal);
        var clientEdges = new SortedDictionary<(string Caller, string Service), LatencyHistogram>();
        var serverEdges = new SortedDictionary<(string Caller, string Service), LatencyHistogram>();
        foreach (var ((service, instanceId), received) in reports.All)
        {
            if (now - received.At > TrafficAge)
            {
                continue;
            }

            foreach (var inbound in received.Report.Inbound ?? [])
            {
                if (!services.TryGetValue(service, out var entry))
                {
                    services[service] = entry = ([], new LatencyHistogram());
                }

                entry.Instances.Add(instanceId);
                entry.Traffic.Add(inbound);
                Edge(serverEdges, inbound.Peer, service).Add(inbound);
            }

            foreach (var outbound in received.Report.Outbound ?? [])
            {
                Edge(clientEdges, service, outbound.Peer.ToLowerInvariant()).Add(outbound);
            }
        }

        var edges = new List<EdgeDocument>();
        foreach (var ((caller, service), traffic) in clientEdges)
        {
            edges.Add(EdgeOf(caller, service, ClientSource, traffic));
        }

        foreach (var ((caller, service), traffic) in serverEdges)
        {
            if (!clientEdges.ContainsKey((caller, service)))
            {
                edges.Add(EdgeOf(caller, service, ServerSource, traffic));
            }
        }

        edges.Sort((a, b) => a.Caller != b.Caller ? string.CompareOrdinal(a.Caller, b.Caller) : string.CompareOrdinal(a.Service, b.Service));
        return new FleetStatsDocument(
            now,
            [.. services.Select(s => new GoldenMetricsDocument(
                s.Key, s.Value.Instances.Count, s.Value.Traffic.Requests, s.Value.Traffic.RequestsPerSecond, s.Value.Traffic.SuccessRate,
                s.Value.Traffic.QuantileMs(0.50), s.Value.Traffic.QuantileMs(0.95), s.Value.Traffic.QuantileMs(0.99)))],
            edges);
    }

    private static LatencyHistogram Edge(SortedDictionary<(string, string), LatencyHistogram> edges, string caller, string service)
    {
        if (!edges.TryGetValue((caller, service), out var traffic))
        {
            edges[(caller, service)] = traffic = new LatencyHistogram();
        }

        return traffic;
    }

    private static EdgeDocument EdgeOf(string caller, string service, string source, LatencyHistogram traffic) =>
        new(caller, service, source, traffic.Requests, traffic.RequestsPerSecond, traffic.SuccessRate, traffic.QuantileMs(0.50), traffic.QuantileMs(0.95), traffic.QuantileMs(0.99));

    private static PeerMetricsDocument PeerOf(TrafficDocument traffic)
    {
        var histogram = new LatencyHistogram();
        histogram.Add(traffic);
        return new PeerMetricsDocument(traffic.Peer, histogram.Requests, histogram.RequestsPerSecond, histogram.SuccessRate, histogram.QuantileMs(0.50), histogram.QuantileMs(0.95), histogram.QuantileMs(0.99));
    }

    // Reports of instances the registry removed are forgotten, so the store never outgrows the registry.
    private void Prune(IReadOnlyList<ServiceStatusDocument> services)
    {
        var registered = new HashSet<(string, string)>(services.SelectMany(s => s.Instances.Select(i => (s.Name, i.InstanceId))));
        reports.Prune((service, instanceId) => registered.Contains((service, instanceId)));
    }

    /// <summary>What one request's answer is built from: meshd's policies, and who calls and ejects whom.</summary>
    private sealed class Context
    {
        private readonly FleetView _view;
        private readonly Dictionary<string, long> _current = new(StringComparer.Ordinal);
        private readonly Dictionary<string, SortedSet<string>> _callers = new(StringComparer.Ordinal);
        private readonly Dictionary<(string Service, string Address), SortedSet<string>> _ejectedBy = [];

        public Context(FleetView view, IReadOnlyList<KeyValuePair<string, Policies.PolicyRecord>> policies)
        {
            _view = view;
            foreach (var (service, record) in policies)
            {
                if (record.Policy is not null)
                {
                    _current[service] = record.Version;
                }
            }

            var now = view.Time.GetUtcNow();
            foreach (var ((service, instanceId), received) in view.Reports.All)
            {
                var fresh = now - received.At <= TrafficAge;
                foreach (var outbound in fresh ? received.Report.Outbound ?? [] : [])
                {
                    Callers(outbound.Peer.ToLowerInvariant()).Add(service);
                }

                foreach (var inbound in fresh ? received.Report.Inbound ?? [] : [])
                {
                    Callers(service).Add(inbound.Peer);
                }

                foreach (var ejected in received.Report.Ejected ?? [])
                {
                    var key = (ejected.Service.ToLowerInvariant(), ejected.Address);
                    if (!_ejectedBy.TryGetValue(key, out var by))
                    {
                        _ejectedBy[key] = by = new SortedSet<string>(StringComparer.Ordinal);
                    }

                    by.Add($"{service}/{instanceId}");
                }
            }
        }

        public ServiceStatusDocument Decorate(ServiceStatusDocument service)
        {
            var instances = service.Instances.Select(i => i with
            {
                Report = Report(service.Name, i.InstanceId),
                EjectedBy = _ejectedBy.TryGetValue((service.Name, i.Address), out var by) ? [.. by] : [],
            }).ToList();
            return service with
            {
                Instances = instances,
                Callers = _callers.TryGetValue(service.Name, out var callers) ? [.. callers] : [],
                Converged = instances.All(i => i.Report is { Converged: true }),
            };
        }

        private SortedSet<string> Callers(string service)
        {
            if (!_callers.TryGetValue(service, out var callers))
            {
                _callers[service] = callers = new SortedSet<string>(StringComparer.Ordinal);
            }

            return callers;
        }

        private InstanceReportStatusDocument? Report(string service, string instanceId)
        {
            if (_view.Reports.Find(service, instanceId) is not { } received)
            {
                return null;
            }

            var report = received.Report;
            var runs = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var applied in report.Policies ?? [])
            {
                runs[applied.Service.ToLowerInvariant()] = applied.PolicyVersion;
            }

            var lagging = _current
                .Where(p => runs.GetValueOrDefault(p.Key) < p.Value)
                .OrderBy(p => p.Key, StringComparer.Ordinal)
                .Select(p => new PolicyLagDocument(p.Key, runs.GetValueOrDefault(p.Key), p.Value))
                .ToList();
            return new InstanceReportStatusDocument(
                received.At,
                report.SnapshotVersion,
                lagging.Count == 0,
                lagging,
                report.Policies ?? [],
                report.OverriddenKeys ?? [],
                report.CertificateExpiresAt,
                [.. (report.Outbound ?? []).Select(PeerOf)],
                [.. (report.Inbound ?? []).Select(PeerOf)]);
        }
    }
}
