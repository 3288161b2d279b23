using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Mesh.Telemetry;

/// <summary>
/// The instruments of the discovery sources that watch a registry, on the same <c>Mesh</c> meter as the rest of the mesh,
/// each tagged with the source (<c>mesh.discovery.source</c>) and the service.
/// </summary>
internal sealed class DiscoveryMetrics
{
    /// <summary>The tag naming the discovery source, such as <c>dns</c>.</summary>
    public const string SourceTag = "mesh.discovery.source";

    private readonly ConcurrentDictionary<(string Source, string Service), State> _states = new();
    private readonly TimeProvider _time;

    public DiscoveryMetrics(IMeterFactory meters, TimeProvider time)
    {
        _time = time;
        var meter = meters.Create(MeshTelemetry.Name, typeof(DiscoveryMetrics).Assembly.GetName().Version?.ToString());
        Lookups = meter.CreateCounter<long>("mesh.discovery.lookups", "{lookup}", "Lookups (or watch answers) asked of a discovery source, per service.");
        Failures = meter.CreateCounter<long>("mesh.discovery.failures", "{failure}", "Lookups that failed or answered what could not be used; the last good endpoints stayed.");
        meter.CreateObservableGauge("mesh.discovery.endpoints", ObserveEndpoints, "{endpoint}", "Endpoints of the last good answer, per service.");
        meter.CreateObservableGauge("mesh.discovery.staleness", ObserveStaleness, "s", "Seconds since the last good answer, per service.");
    }

    public Counter<long> Lookups { get; }

    public Counter<long> Failures { get; }

    /// <summary>Gets the state one source keeps for one service, for the gauges.</summary>
    public State Of(string source, string service) => _states.GetOrAdd((source, service), static _ => new State());

    /// <summary>Stops reporting a service a source no longer watches.</summary>
    public void Forget(string source, string service) => _states.TryRemove((source, service), out _);

    public static KeyValuePair<string, object?>[] Tags(string source, string service) => [new(SourceTag, source), new(MeshTags.Service, service)];

    private IEnumerable<Measurement<int>> ObserveEndpoints()
    {
        foreach (var ((source, service), state) in _states)
        {
            yield return new Measurement<int>(state.Endpoints, Tags(source, service));
        }
    }

    private IEnumerable<Measurement<double>> ObserveStaleness()
    {
        var now = _time.GetTimestamp();
        foreach (var ((source, service), state) in _states)
        {
            if (state.Live)
            {
                yield return new Measurement<double>(0, Tags(source, service));
            }
            else if (state.LastGood is { } last)
            {
                yield return new Measurement<double>(_time.GetElapsedTime(last, now).TotalSeconds, Tags(source, service));
            }
        }
    }

    /// <summary>What the gauges report of one service of one source.</summary>
    internal sealed class State
    {
        private long _lastGood = -1;
        private int _endpoints;
        private volatile bool _live;

        /// <summary>Gets or sets whether the source is connected and told of every change (a watch), so its answer is current.</summary>
        public bool Live
        {
            get => _live;
            set => _live = value;
        }

        /// <summary>Gets the number of endpoints in the last good answer.</summary>
        public int Endpoints => Volatile.Read(ref _endpoints);

        /// <summary>Gets the timestamp (<see cref="TimeProvider.GetTimestamp"/>) of the last good answer, if any.</summary>
        public long? LastGood => Interlocked.Read(ref _lastGood) is var value and >= 0 ? value : null;

        /// <summary>Records a good answer with <paramref name="endpoints"/> endpoints at <paramref name="timestamp"/>.</summary>
        public void Good(int endpoints, long timestamp)
        {
            Volatile.Write(ref _endpoints, endpoints);
            Interlocked.Exchange(ref _lastGood, timestamp);
        }
    }
}
