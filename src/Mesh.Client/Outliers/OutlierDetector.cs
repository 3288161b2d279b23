using System.Text.Json;
using Mesh.Telemetry;
using Mesh.Utilities;
using Microsoft.Extensions.Logging;

namespace Mesh.Outliers;

/// <summary>
/// Ejects an endpoint of one service after consecutive failures, for BaseEjectionTime × times ejected (capped,
/// shortened by up to 10% at random), never more than MaxEjectionPercent of the service's routable endpoints at once.
/// Owns the ejection state of the service's endpoints; an ejection or a return is told through the change callback,
/// so the endpoints balanced over can be swapped and picks stay lock-free. A detector replaced (its options changed)
/// takes its ejections with it.
/// </summary>
internal sealed partial class OutlierDetector : IDisposable
{
    private readonly string _service;
    private readonly OutlierDetectionOptions _options;
    private readonly TimeProvider _time;
    private readonly MeshRandom _random;
    private readonly ServiceCounters _counters;
    private readonly ILogger _logger;
    private readonly Action _changed;
    private readonly Lock _lock = new();
    private readonly HashSet<ITimer> _returns = [];
    private Dictionary<string, EjectionState> _states = new(StringComparer.Ordinal);
    private volatile EjectionState[] _routable = [];
    private bool _disposed;

    public OutlierDetector(string service, OutlierDetectionOptions options, TimeProvider time, MeshRandom random, ServiceCounters counters, ILogger logger, Action changed)
    {
        _service = service;
        _options = options;
        _time = time;
        _random = random;
        _counters = counters;
        _logger = logger;
        _changed = changed;
        Fingerprint = FingerprintOf(options);
    }

    /// <summary>Gets a canonical form of the options, to tell whether a reload changed them.</summary>
    public string Fingerprint { get; }

    public static string FingerprintOf(OutlierDetectionOptions options) => JsonSerializer.Serialize(options);

    /// <summary>Gets the state of the endpoint at <paramref name="authority"/>: the one it had, or a new one.</summary>
    public EjectionState StateOf(string authority)
    {
        lock (_lock)
        {
            if (!_states.TryGetValue(authority, out var state))
            {
                state = new EjectionState(authority);
                _states[authority] = state;
            }

            return state;
        }
    }

    /// <summary>Tells the detector the service's endpoints now: it forgets the others, and caps ejections against <paramref name="routable"/>.</summary>
    public void Track(IEnumerable<EjectionState> all, EjectionState[] routable)
    {
        lock (_lock)
        {
            _states = all.ToDictionary(s => s.Authority, StringComparer.Ordinal);
            _routable = routable;
        }
    }

    /// <summary>Records one attempt's outcome on an endpoint; may eject it.</summary>
    public void Record(EjectionState endpoint, bool failed)
    {
        if (!_options.Enabled)
        {
            return;
        }

        if (!failed)
        {
            endpoint.RecordSuccess();
            return;
        }

        if (endpoint.RecordFailure() < _options.ConsecutiveFailures)
        {
            return;
        }

        Eject(endpoint);
    }

    // Apart from Record: the return timer's callback captures the endpoint, and a captured parameter makes the method
    // that has it allocate the closure on entry, on every attempt's outcome, ejection or not.
    private void Eject(EjectionState endpoint)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            if (_disposed || endpoint.IsEjected(now))
            {
                return;
            }

            var routable = _routable;
            var ejected = 0;
            foreach (var e in routable)
            {
                ejected += e.IsEjected(now) ? 1 : 0;
            }

            var allowed = Math.Max(1, routable.Length * _options.MaxEjectionPercent / 100);
            if (ejected >= allowed)
            {
                LogEjectionCapped(_logger, _service, endpoint.Authority, ejected, _options.MaxEjectionPercent);
                return;
            }

            var ordinal = endpoint.BeginEjection(now, ToTicks(_options.MaxEjectionTime));
            var full = TimeSpan.FromTicks(Math.Min(_options.MaxEjectionTime.Ticks, _options.BaseEjectionTime.Ticks * ordinal));
            var duration = full * (1 - (0.1 * _random.NextDouble()));
            endpoint.EjectUntil(now + ToTicks(duration));
            _counters.Eject();
            LogEjected(_logger, _service, endpoint.Authority, _options.ConsecutiveFailures, duration.TotalSeconds, ordinal);

            ITimer? timer = null;
            timer = _time.CreateTimer(
                _ =>
                {
                    lock (_lock)
                    {
                        _returns.Remove(timer!);
                    }

                    timer!.Dispose();
                    LogReturned(_logger, _service, endpoint.Authority);
                    _changed();
                },
                null,
                duration + TimeSpan.FromMilliseconds(1),
                Timeout.InfiniteTimeSpan);
            _returns.Add(timer);
        }

        _changed();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var timer in _returns)
            {
                timer.Dispose();
            }

            _returns.Clear();
        }
    }

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);
}
