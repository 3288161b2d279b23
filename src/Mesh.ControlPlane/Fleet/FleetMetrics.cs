using System.Diagnostics.Metrics;
using Mesh.ControlPlane.Contract;

namespace Meshd.Fleet;

/// <summary>
/// The fleet's golden metrics as instruments on the <c>Meshd.Fleet</c> meter, read from <see cref="FleetView"/> when
/// they are collected (for <c>/metrics</c>): per service (<c>meshd.service</c>) and per edge (<c>meshd.caller</c>,
/// <c>meshd.service</c>, <c>meshd.source</c>) the request rate, success rate and latency quantiles (<c>quantile</c>
/// 0.5, 0.95, 0.99), and per service the registered and lagging instances. One collection adds the reports up once.
/// </summary>
internal sealed class FleetMetrics
{
    internal const string MeterName = "Meshd.Fleet";

    private static readonly TimeSpan s_fresh = TimeSpan.FromMilliseconds(500);

    private readonly FleetView _fleet;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private (long At, FleetStatsDocument Stats, IReadOnlyList<ServiceStatusDocument> Services)? _last;

    public FleetMetrics(IMeterFactory meters, FleetView fleet, TimeProvider time)
    {
        _fleet = fleet;
        _time = time;
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("meshd.fleet.requests.rate", () => Services(s => s.RequestsPerSecond), "{request}/s", "Requests per second the service's instances served over the last minute.");
        meter.CreateObservableGauge("meshd.fleet.success.ratio", () => Services(s => s.SuccessRate), "1", "The share of the service's requests answered below 500 over the last minute.");
        meter.CreateObservableGauge("meshd.fleet.request.duration", () => Quantiles(), "ms", "Request duration quantiles of the service over the last minute.");
        meter.CreateObservableGauge("meshd.fleet.edge.requests.rate", () => Edges(e => e.RequestsPerSecond), "{request}/s", "Requests per second from a caller to a service over the last minute.");
        meter.CreateObservableGauge("meshd.fleet.edge.success.ratio", () => Edges(e => e.SuccessRate), "1", "The share of a caller's requests to a service answered below 500 over the last minute.");
        meter.CreateObservableGauge("meshd.fleet.edge.request.duration", () => EdgeQuantiles(), "ms", "Request duration quantiles from a caller to a service over the last minute.");
        meter.CreateObservableGauge("meshd.fleet.instances", () => Instances(lagging: false), "{instance}", "Registered instances of the service.");
        meter.CreateObservableGauge("meshd.fleet.instances.lagging", () => Instances(lagging: true), "{instance}", "Instances of the service that reported running an older version of a policy than meshd holds, or no report yet.");
    }

    private (FleetStatsDocument Stats, IReadOnlyList<ServiceStatusDocument> Services) Current()
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            if (_last is not { } last || _time.GetElapsedTime(last.At, now) > s_fresh)
            {
                _last = last = (now, _fleet.GetStats(), _fleet.GetServices());
            }

            return (last.Stats, last.Services);
        }
    }

    private IEnumerable<Measurement<double>> Services(Func<GoldenMetricsDocument, double> value) =>
        Current().Stats.Services.Select(s => new Measurement<double>(value(s), new KeyValuePair<string, object?>("meshd.service", s.Service)));

    private IEnumerable<Measurement<double>> Quantiles() =>
        Current().Stats.Services.SelectMany(s => Quantile(s.P50Ms, s.P95Ms, s.P99Ms, new KeyValuePair<string, object?>("meshd.service", s.Service)));

    private IEnumerable<Measurement<double>> Edges(Func<EdgeDocument, double> value) =>
        Current().Stats.Edges.Select(e => new Measurement<double>(value(e), EdgeTags(e)));

    private IEnumerable<Measurement<double>> EdgeQuantiles() =>
        Current().Stats.Edges.SelectMany(e => Quantile(e.P50Ms, e.P95Ms, e.P99Ms, EdgeTags(e)));

    private IEnumerable<Measurement<long>> Instances(bool lagging) =>
        Current().Services.Select(s => new Measurement<long>(
            lagging ? s.Instances.Count(i => i.Report is not { Converged: true }) : s.Instances.Count,
            new KeyValuePair<string, object?>("meshd.service", s.Name)));

    private static KeyValuePair<string, object?>[] EdgeTags(EdgeDocument edge) =>
        [new("meshd.caller", edge.Caller), new("meshd.service", edge.Service), new("meshd.source", edge.Source)];

    private static IEnumerable<Measurement<double>> Quantile(double p50, double p95, double p99, params KeyValuePair<string, object?>[] tags)
    {
        yield return new Measurement<double>(p50, [.. tags, new("quantile", "0.5")]);
        yield return new Measurement<double>(p95, [.. tags, new("quantile", "0.95")]);
        yield return new Measurement<double>(p99, [.. tags, new("quantile", "0.99")]);
    }
}
