using Mesh.Telemetry;
using Microsoft.Extensions.Logging;

namespace Mesh.Discovery.Dns;

/// <summary>
/// Keeps one service's endpoints from DNS: looks its records up, again when their time to live ends (clamped to
/// <c>MinRefresh</c>..<c>MaxRefresh</c>), and tells its source when the set changes. A failed lookup keeps the last good
/// set and is retried sooner (from <c>MinRefresh</c>, doubling up to <c>MaxRefresh</c>); the failure is logged as a
/// warning once, then at most once per <c>MaxRefresh</c> while it lasts. An authoritative empty answer empties the set.
/// </summary>
internal sealed partial class DnsWatch : IDisposable
{
    private readonly string _service;
    private readonly DnsResolver _resolver;
    private readonly DnsDiscoveryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DiscoveryMetrics _metrics;
    private readonly DiscoveryMetrics.State _state;
    private readonly KeyValuePair<string, object?>[] _tags;
    private readonly Action _changed;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationToken _token;
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile IReadOnlyList<MeshEndpoint> _current = [];
    private long _version;

    public DnsWatch(string service, DnsQuery query, DnsResolver resolver, DnsDiscoveryOptions options, TimeProvider time, ILogger logger, DiscoveryMetrics metrics, Action changed)
    {
        _service = service;
        Query = query;
        _resolver = resolver;
        _options = options;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _state = metrics.Of(DnsEndpointSource.SourceName, service);
        _tags = DiscoveryMetrics.Tags(DnsEndpointSource.SourceName, service);
        _changed = changed;
        _token = _stop.Token;
    }

    public DnsQuery Query { get; }

    /// <summary>Gets the endpoints of the last good answer; none before the first.</summary>
    public IReadOnlyList<MeshEndpoint> Current => _current;

    /// <summary>Gets the number of changes of <see cref="Current"/>; it grows before the source is told.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>Gets or sets the <see cref="Version"/> the catalog last read.</summary>
    public long Served { get; set; }

    /// <summary>Gets a task that completes after the first lookup, whatever its outcome.</summary>
    public Task FirstLookup => _first.Task;

    public void Start() => _ = Task.Run(RunAsync);

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
        _metrics.Forget(DnsEndpointSource.SourceName, _service);
    }

    private async Task RunAsync()
    {
        var token = _token;
        var failures = 0;
        long lastWarning = 0;
        while (!token.IsCancellationRequested)
        {
            TimeSpan delay;
            DnsAnswer answer;
            try
            {
                _metrics.Lookups.Add(1, _tags);
                answer = await _resolver.ResolveAsync(Query, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Whatever a lookup throws, the watch goes on with the last good set.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                answer = DnsAnswer.Failed(ex.GetType().Name);
            }

            if (answer.Kind == DnsAnswerKind.Failed)
            {
                _metrics.Failures.Add(1, _tags);
                failures++;
                var now = _time.GetTimestamp();
                if (failures == 1 || _time.GetElapsedTime(lastWarning, now) >= _options.MaxRefresh)
                {
                    lastWarning = now;
                    LogFailed(_logger, DnsEndpointSource.SourceName, _service, Query.ToString(), answer.Problem, failures, _current.Count);
                }
                else
                {
                    LogStillFailing(_logger, DnsEndpointSource.SourceName, _service, Query.ToString(), answer.Problem, failures);
                }

                var backoff = _options.MinRefresh * Math.Pow(2, Math.Min(failures - 1, 20));
                delay = backoff < _options.MaxRefresh ? backoff : _options.MaxRefresh;
            }
            else
            {
                if (failures > 0)
                {
                    LogRecovered(_logger, DnsEndpointSource.SourceName, _service, Query.ToString(), failures);
                    failures = 0;
                }

                var changed = Apply(answer);
                delay = Clamp(answer.Ttl);
                _first.TrySetResult();
                if (changed)
                {
                    _changed();
                }
            }

            _first.TrySetResult();
            try
            {
                await Task.Delay(delay, _time, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Takes a good answer; <see langword="true"/> when the set changed.</summary>
    private bool Apply(DnsAnswer answer)
    {
        var previous = _current;
        var next = answer.Endpoints;
        _state.Good(next.Count, _time.GetTimestamp());
        if (Same(previous, next))
        {
            return false;
        }

        if (next.Count == 0)
        {
            LogEmptied(_logger, DnsEndpointSource.SourceName, _service, Query.ToString(), answer.Problem, previous.Count);
        }
        else
        {
            LogChanged(_logger, DnsEndpointSource.SourceName, _service, Query.ToString(), next.Count, string.Join(", ", next.Take(16).Select(e => $"{e} w{e.Weight}")) + (next.Count > 16 ? ", ..." : string.Empty));
        }

        _current = next;
        Interlocked.Increment(ref _version);
        return true;
    }

    private TimeSpan Clamp(TimeSpan ttl) => ttl < _options.MinRefresh ? _options.MinRefresh : ttl > _options.MaxRefresh ? _options.MaxRefresh : ttl;

    private static bool Same(IReadOnlyList<MeshEndpoint> a, IReadOnlyList<MeshEndpoint> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (a[i].Address != b[i].Address || a[i].Weight != b[i].Weight)
            {
                return false;
            }
        }

        return true;
    }
}
