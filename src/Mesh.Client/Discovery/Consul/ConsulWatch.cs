using System.Text.Json;
using Mesh.Telemetry;
using Microsoft.Extensions.Logging;

namespace Mesh.Discovery.Consul;

/// <summary>
/// Keeps one service's endpoints from Consul with blocking queries, following Consul's index rules: each query carries
/// the last <c>X-Consul-Index</c> and waits for it to change (up to <c>Wait</c>); an index that goes backwards, or one
/// that is 0 or less, makes the next query ask with index 0 (an answer at once, then blocking again). Queries are
/// rate-limited: an answer that came sooner than <c>MinInterval</c> after its query was sent is followed by a pause to
/// <c>MinInterval</c>, except the first answer to a query with index 0 that brings a usable index; so a Consul that
/// does not block is never asked in a loop. A failed query, or an answer that cannot be read, keeps the last good set;
/// it is retried after a jittered back-off (from <c>MinInterval</c>, doubling up to 30 seconds) and logged as a warning
/// once, then at most once a minute while it lasts.
/// </summary>
internal sealed partial class ConsulWatch : IDisposable
{
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_warningInterval = TimeSpan.FromMinutes(1);

    private readonly string _service;
    private readonly ConsulClient _client;
    private readonly ConsulDiscoveryOptions _options;
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

    public ConsulWatch(string service, ConsulQuery query, ConsulClient client, ConsulDiscoveryOptions options, TimeProvider time, ILogger logger, DiscoveryMetrics metrics, Action changed)
    {
        _service = service;
        Query = query;
        _client = client;
        _options = options;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _state = metrics.Of(ConsulEndpointSource.SourceName, service);
        _tags = DiscoveryMetrics.Tags(ConsulEndpointSource.SourceName, service);
        _changed = changed;
        _token = _stop.Token;
    }

    public ConsulQuery Query { get; }

    /// <summary>Gets the endpoints of the last good answer; none before the first.</summary>
    public IReadOnlyList<MeshEndpoint> Current => _current;

    /// <summary>Gets the number of changes of <see cref="Current"/>; it grows before the source is told.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>Gets or sets the <see cref="Version"/> the catalog last read.</summary>
    public long Served { get; set; }

    /// <summary>Gets a task that completes after the first query, whatever its outcome.</summary>
    public Task FirstQuery => _first.Task;

    public void Start() => _ = Task.Run(RunAsync);

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
        _metrics.Forget(ConsulEndpointSource.SourceName, _service);
    }

    private async Task RunAsync()
    {
        var token = _token;
        var failures = 0;
        long lastWarning = 0;
        long index = 0;
        while (!token.IsCancellationRequested)
        {
            var sent = index;
            var started = _time.GetTimestamp();
            TimeSpan delay;
            try
            {
                _metrics.Lookups.Add(1, _tags);
                var (answered, body) = await _client.HealthAsync(Query.Name, Query.Tag, sent, token).ConfigureAwait(false);
                bool changed;
                using (body)
                {
                    changed = Apply(body.RootElement, logSkipped: answered != sent);
                }

                if (failures > 0)
                {
                    LogRecovered(_logger, ConsulEndpointSource.SourceName, _service, Query.Name, failures);
                    failures = 0;
                }

                // Consul's rules: an index that goes backwards starts over from 0; one of 0 or less is taken as 0.
                if (answered < sent)
                {
                    LogIndexReset(_logger, ConsulEndpointSource.SourceName, _service, sent, answered);
                    index = 0;
                }
                else
                {
                    index = answered > 0 ? answered : 0;
                }

                _state.Live = true;
                _first.TrySetResult();
                if (changed)
                {
                    _changed();
                }

                // Never in a loop: an answer at once waits out MinInterval, unless it is the one that ends a query from 0.
                var elapsed = _time.GetElapsedTime(started);
                delay = elapsed < _options.MinInterval && !(sent == 0 && index > 0) ? _options.MinInterval - elapsed : TimeSpan.Zero;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Whatever a query throws or answers, the watch goes on with the last good set.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _state.Live = false;
                _metrics.Failures.Add(1, _tags);
                failures++;
                var now = _time.GetTimestamp();
                if (failures == 1 || _time.GetElapsedTime(lastWarning, now) >= s_warningInterval)
                {
                    lastWarning = now;
                    LogFailed(_logger, ConsulEndpointSource.SourceName, _service, Query.Name, _client.Address, Problem(ex), failures, _current.Count);
                }
                else
                {
                    LogStillFailing(_logger, ConsulEndpointSource.SourceName, _service, Query.Name, Problem(ex), failures);
                }

                _first.TrySetResult();
                var backoff = _options.MinInterval * Math.Pow(2, Math.Min(failures - 1, 20));
                backoff = backoff < s_maxBackoff ? backoff : s_maxBackoff;

                // Jitter, so the watches of many clients do not come back at once: 75% to 100% of the back-off.
                delay = backoff * (0.75 + (Random.Shared.NextDouble() * 0.25));
            }

            if (delay > TimeSpan.Zero)
            {
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
    }

    /// <summary>Takes a good answer; <see langword="true"/> when the set changed.</summary>
    private bool Apply(JsonElement answer, bool logSkipped)
    {
        var next = new List<(string Id, MeshEndpoint Endpoint)>();
        var seen = new HashSet<Uri>();
        foreach (var entry in answer.EnumerateArray())
        {
            if (ConsulEntry.TryParse(entry, Uri.UriSchemeHttp, out var id, out var problem) is { } endpoint)
            {
                if (seen.Add(endpoint.Address))
                {
                    next.Add((id, endpoint));
                }
            }
            else if (logSkipped)
            {
                LogBadEntry(_logger, ConsulEndpointSource.SourceName, _service, id, problem);
            }
        }

        IReadOnlyList<MeshEndpoint> endpoints = [.. next.OrderBy(e => e.Id, StringComparer.Ordinal).ThenBy(e => e.Endpoint.Address.ToString(), StringComparer.Ordinal).Select(e => e.Endpoint)];
        var previous = _current;
        _state.Good(endpoints.Count, _time.GetTimestamp());
        if (Same(previous, endpoints))
        {
            return false;
        }

        LogChanged(_logger, ConsulEndpointSource.SourceName, _service, Query.Name, endpoints.Count, string.Join(", ", endpoints.Take(16).Select(e => $"{e} w{e.Weight}")) + (endpoints.Count > 16 ? ", ..." : string.Empty));
        _current = endpoints;
        Interlocked.Increment(ref _version);
        return true;
    }

    private static string Problem(Exception ex) => ex switch
    {
        HttpRequestException { StatusCode: { } status } => $"HTTP {(int)status}",
        HttpRequestException http => http.HttpRequestError.ToString(),
        OperationCanceledException => "no answer in time",
        JsonException => "an answer that is not JSON",
        InvalidDataException data => data.Message,
        _ => ex.GetType().Name,
    };

    private static bool Same(IReadOnlyList<MeshEndpoint> a, IReadOnlyList<MeshEndpoint> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (a[i].Address != b[i].Address || a[i].Weight != b[i].Weight || a[i].Zone != b[i].Zone
                || a[i].Labels.Count != b[i].Labels.Count || a[i].Labels.Any(l => !b[i].Labels.TryGetValue(l.Key, out var v) || v != l.Value))
            {
                return false;
            }
        }

        return true;
    }
}
