using Mesh.Balancing;
using Mesh.Discovery;
using Mesh.Resilience;
using Microsoft.Extensions.Logging;

namespace Mesh.Outliers;

/// <summary>
/// Ejects an endpoint of one service after consecutive failures, for BaseEjectionTime × times ejected (capped,
/// shortened by up to 10% at random), never more than MaxEjectionPercent of the service's endpoints at once.
/// Ejection and return swap the service's picker, so picks stay lock-free.
/// </summary>
internal sealed partial class OutlierDetector : IDisposable
{
    private readonly string _service;
    private readonly OutlierDetectionOptions _options;
    private readonly TimeProvider _time;
    private readonly MeshRandom _random;
    private readonly ResilienceCounters _counters;
    private readonly ILogger _logger;
    private readonly Action<string> _refresh;
    private readonly Lock _lock = new();
    private readonly HashSet<ITimer> _returns = [];
    private bool _disposed;

    public OutlierDetector(string service, OutlierDetectionOptions options, TimeProvider time, MeshRandom random, ResilienceCounters counters, ILogger logger, Action<string> refresh)
    {
        _service = service;
        _options = options;
        _time = time;
        _random = random;
        _counters = counters;
        _logger = logger;
        _refresh = refresh;
    }

    /// <summary>Records one attempt's outcome on an endpoint; may eject it.</summary>
    public void Record(ServiceState service, EndpointState endpoint, bool failed)
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

        TimeSpan duration;
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            if (_disposed || endpoint.IsEjected(now))
            {
                return;
            }

            var ejected = 0;
            foreach (var e in service.Routable)
            {
                ejected += e.IsEjected(now) ? 1 : 0;
            }

            var allowed = Math.Max(1, service.Routable.Length * _options.MaxEjectionPercent / 100);
            if (ejected >= allowed)
            {
                LogEjectionCapped(_logger, _service, endpoint.Authority, ejected, _options.MaxEjectionPercent);
                return;
            }

            var ordinal = endpoint.BeginEjection(now, ToTicks(_options.MaxEjectionTime));
            var full = TimeSpan.FromTicks(Math.Min(_options.MaxEjectionTime.Ticks, _options.BaseEjectionTime.Ticks * ordinal));
            duration = full * (1 - (0.1 * _random.NextDouble()));
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
                    _refresh(_service);
                },
                null,
                duration + TimeSpan.FromMilliseconds(1),
                Timeout.InfiniteTimeSpan);
            _returns.Add(timer);
        }

        _refresh(_service);
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

    [LoggerMessage(30, LogLevel.Warning, "Endpoint {Endpoint} of service '{Service}' ejected after {Failures} consecutive failures for {Seconds:0.#} s (ejection {Ordinal}).")]
    private static partial void LogEjected(ILogger logger, string service, string endpoint, int failures, double seconds, int ordinal);

    [LoggerMessage(31, LogLevel.Information, "Endpoint {Endpoint} of service '{Service}' returns to balancing after its ejection.")]
    private static partial void LogReturned(ILogger logger, string service, string endpoint);

    [LoggerMessage(32, LogLevel.Debug, "Endpoint {Endpoint} of service '{Service}' keeps failing but is not ejected: {Ejected} endpoints already are (MaxEjectionPercent {Percent}).")]
    private static partial void LogEjectionCapped(ILogger logger, string service, string endpoint, int ejected, int percent);
}
