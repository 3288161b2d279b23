using System.Collections.Frozen;
using System.Text.Json;
using Mesh.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.Discovery.Etcd;

/// <summary>
/// Endpoints kept in etcd under <c>{Prefix}/{service}/{instance}</c>, for the services whose source is <c>etcd</c> (and,
/// with <c>Mesh:Discovery:Source</c> set to <c>etcd</c>, every service found under the prefix). One watch covers the
/// prefix: a full read, then a watch from the next revision; a broken watch resumes from the last revision seen, and a
/// watch refused because that revision was compacted reads everything again. While etcd cannot be reached the last good
/// endpoints stay in force; the failure is logged as a warning once, then at most once a minute while it lasts.
/// </summary>
internal sealed partial class EtcdEndpointSource : IEndpointSource, IDisposable
{
    public const string SourceName = DiscoverySourceNames.Etcd;

    private static readonly TimeSpan s_startupWait = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_warningInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan s_minBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(5);
    private static readonly IChangeToken s_changed = new CancellationChangeToken(new CancellationToken(canceled: true));

    private readonly IOptionsFactory<MeshOptions> _optionsFactory;
    private readonly DiscoveryMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstRead = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<string, MeshEndpoint> _entries = new(StringComparer.Ordinal);
    private volatile Snapshot _snapshot = new(0, FrozenDictionary<string, IReadOnlyList<MeshEndpoint>>.Empty);
    private CancellationTokenSource _changes = new();
    private long _lowestRead = long.MaxValue;
    private EtcdGateway? _gateway;
    private string _prefix = string.Empty;
    private MeshDiscoveryOptions? _settings;
    private bool _started;

    public EtcdEndpointSource(IOptionsFactory<MeshOptions> optionsFactory, DiscoveryMetrics metrics, TimeProvider time, ILogger<EtcdEndpointSource> logger)
    {
        _optionsFactory = optionsFactory;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    public string Name => SourceName;

    public IReadOnlyCollection<string> GetServiceNames()
    {
        var options = Settings();
        if (!string.Equals(options.Source, SourceName, StringComparison.OrdinalIgnoreCase) || options.Etcd.Endpoints.Count == 0)
        {
            return [];
        }

        EnsureStarted(options.Etcd);
        var snapshot = Read();
        return snapshot.Services.Keys;
    }

    public bool TryGetEndpoints(string serviceName, MeshServiceOptions service, out IReadOnlyList<MeshEndpoint> endpoints)
    {
        var options = Settings().Etcd;
        if (options.Endpoints.Count == 0)
        {
            endpoints = [];
            return false;
        }

        EnsureStarted(options);
        var snapshot = Read();
        endpoints = snapshot.Services.TryGetValue(service.Discovery.Name ?? serviceName, out var found) ? found : [];
        return true;
    }

    public IChangeToken GetChangeToken()
    {
        var changes = Volatile.Read(ref _changes);

        // A change after what the catalog last read (while it was building) fires at once.
        var lowest = Interlocked.Exchange(ref _lowestRead, long.MaxValue);
        return lowest < _snapshot.Version ? s_changed : new CancellationChangeToken(changes.Token);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _gateway?.Dispose();
    }

    /// <summary>The mesh-wide discovery settings, read once (they are read once, at start, by rule).</summary>
    private MeshDiscoveryOptions Settings()
    {
        if (Volatile.Read(ref _settings) is { } settings)
        {
            return settings;
        }

        settings = _optionsFactory.Create(Options.DefaultName).Discovery;
        return Interlocked.CompareExchange(ref _settings, settings, null) ?? settings;
    }

    private Snapshot Read()
    {
        var snapshot = _snapshot;
        long current;
        while ((current = Interlocked.Read(ref _lowestRead)) > snapshot.Version && Interlocked.CompareExchange(ref _lowestRead, snapshot.Version, current) != current)
        {
        }

        return snapshot;
    }

    private void EnsureStarted(EtcdDiscoveryOptions options)
    {
        lock (_lock)
        {
            if (!_started)
            {
                // Settings are read once, when a service first uses the source.
                _started = true;
                _prefix = options.Prefix + "/";
                _gateway = new EtcdGateway(options);
                _ = Task.Run(RunAsync);
            }
        }

        // So the first request already finds the endpoints; an unreachable etcd only delays the start, bounded.
        _firstRead.Task.Wait(s_startupWait);
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        var gateway = _gateway!;
        var failures = 0;
        long lastWarning = 0;
        long revision = -1;
        while (!token.IsCancellationRequested)
        {
            try
            {
                if (revision < 0)
                {
                    revision = await ListAsync(gateway, token).ConfigureAwait(false);
                }

                using var watch = await gateway.WatchAsync(_prefix, revision + 1, token).ConfigureAwait(false);
                if (failures > 0)
                {
                    LogReconnected(_logger, SourceName, gateway.Current, failures, revision);
                    failures = 0;
                }

                SetLive(true);
                while (await watch.ReadAsync(token).ConfigureAwait(false) is { } message)
                {
                    using (message)
                    {
                        var next = Apply(message.RootElement, revision, out var compacted);
                        if (compacted)
                        {
                            LogCompacted(_logger, SourceName, revision);
                            revision = -1;
                            break;
                        }

                        revision = next;
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Whatever etcd answers or the network does, the last good endpoints stay.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                SetLive(false);
                failures++;
                CountFailure();
                var now = _time.GetTimestamp();
                if (failures == 1 || _time.GetElapsedTime(lastWarning, now) >= s_warningInterval)
                {
                    lastWarning = now;
                    LogUnreachable(_logger, SourceName, gateway.Current, Problem(ex), failures, _entries.Count);
                }
                else
                {
                    LogStillUnreachable(_logger, SourceName, gateway.Current, Problem(ex), failures);
                }

                gateway.Next();
                _firstRead.TrySetResult();
                var backoff = s_minBackoff * Math.Pow(2, Math.Min(failures - 1, 10));
                try
                {
                    await Task.Delay(backoff < s_maxBackoff ? backoff : s_maxBackoff, _time, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            SetLive(false);
        }
    }

    /// <summary>Reads everything under the prefix and replaces the entries; returns the store's revision.</summary>
    private async Task<long> ListAsync(EtcdGateway gateway, CancellationToken token)
    {
        var (revision, kvs) = await gateway.RangeAsync(_prefix, token).ConfigureAwait(false);
        _entries.Clear();
        foreach (var (key, value) in kvs)
        {
            Put(key, value);
        }

        Publish();
        _firstRead.TrySetResult();
        return revision;
    }

    /// <summary>Applies one watch message; returns the revision it brings the entries to.</summary>
    private long Apply(JsonElement message, long revision, out bool compacted)
    {
        compacted = false;
        if (message.TryGetProperty("error", out var error))
        {
            throw new InvalidDataException($"etcd's watch answered an error: {(error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : "unknown")}");
        }

        var result = message.GetProperty("result");
        if (EtcdGateway.Int64(result, "compact_revision") > 0)
        {
            compacted = true;
            return revision;
        }

        if (result.TryGetProperty("canceled", out var canceled) && canceled.ValueKind == JsonValueKind.True)
        {
            throw new InvalidDataException("etcd cancelled the watch.");
        }

        var next = Math.Max(revision, EtcdGateway.Int64(result.GetProperty("header"), "revision"));
        if (!result.TryGetProperty("events", out var events))
        {
            return next;
        }

        foreach (var change in events.EnumerateArray())
        {
            var kv = change.GetProperty("kv");
            var key = System.Text.Encoding.UTF8.GetString(kv.GetProperty("key").GetBytesFromBase64());
            var delete = change.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "DELETE";
            if (delete)
            {
                _entries.Remove(key);
            }
            else
            {
                Put(key, kv.TryGetProperty("value", out var value) ? value.GetBytesFromBase64() : []);
            }
        }

        Publish();
        return next;
    }

    private void Put(string key, byte[] value)
    {
        _entries.Remove(key);
        if (!EtcdEntry.TryParseKey(key, _prefix, out var service, out var problem))
        {
            LogBadEntry(_logger, SourceName, "?", Shown(key), problem);
            return;
        }

        if (EtcdEntry.TryParseValue(value, out problem) is { } endpoint)
        {
            _entries[key] = endpoint;
        }
        else
        {
            LogBadEntry(_logger, SourceName, service, Shown(key), problem);
        }
    }

    /// <summary>Makes the entries the snapshot in force when they differ from it, and tells the catalog.</summary>
    private void Publish()
    {
        var services = new Dictionary<string, List<(string Key, MeshEndpoint Endpoint)>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, endpoint) in _entries)
        {
            EtcdEntry.TryParseKey(key, _prefix, out var service, out _);
            (services.TryGetValue(service, out var list) ? list : services[service] = []).Add((key, endpoint));
        }

        var next = services.ToFrozenDictionary(
            s => s.Key,
            s => (IReadOnlyList<MeshEndpoint>)[.. s.Value.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => e.Endpoint)],
            StringComparer.OrdinalIgnoreCase);
        var now = _time.GetTimestamp();
        var previous = _snapshot;
        foreach (var (service, endpoints) in next)
        {
            _metrics.Lookups.Add(1, DiscoveryMetrics.Tags(SourceName, service));
            _metrics.Of(SourceName, service).Good(endpoints.Count, now);
        }

        foreach (var service in previous.Services.Keys.Where(s => !next.ContainsKey(s)))
        {
            _metrics.Of(SourceName, service).Good(0, now);
        }

        if (Same(previous.Services, next))
        {
            return;
        }

        foreach (var (service, endpoints) in next)
        {
            if (!previous.Services.TryGetValue(service, out var before) || !Same(before, endpoints))
            {
                LogChanged(_logger, SourceName, service, endpoints.Count);
            }
        }

        foreach (var service in previous.Services.Keys.Where(s => !next.ContainsKey(s)))
        {
            LogChanged(_logger, SourceName, service, 0);
        }

        _snapshot = new Snapshot(previous.Version + 1, next);
        var changes = Interlocked.Exchange(ref _changes, new CancellationTokenSource());
        ThreadPool.UnsafeQueueUserWorkItem(static c => c.Cancel(), changes, preferLocal: false);
    }

    private void SetLive(bool live)
    {
        var now = _time.GetTimestamp();
        foreach (var service in _snapshot.Services.Keys)
        {
            var state = _metrics.Of(SourceName, service);
            state.Live = live;
            if (live)
            {
                state.Good(state.Endpoints, now);
            }
        }
    }

    private void CountFailure()
    {
        foreach (var service in _snapshot.Services.Keys)
        {
            _metrics.Failures.Add(1, DiscoveryMetrics.Tags(SourceName, service));
        }
    }

    private static bool Same(FrozenDictionary<string, IReadOnlyList<MeshEndpoint>> a, FrozenDictionary<string, IReadOnlyList<MeshEndpoint>> b) =>
        a.Count == b.Count && a.All(e => b.TryGetValue(e.Key, out var other) && Same(e.Value, other));

    private static bool Same(IReadOnlyList<MeshEndpoint> a, IReadOnlyList<MeshEndpoint> b) =>
        a.Count == b.Count && a.Zip(b).All(p => p.First.Address == p.Second.Address && p.First.Weight == p.Second.Weight && p.First.Zone == p.Second.Zone
            && p.First.Labels.Count == p.Second.Labels.Count && p.First.Labels.All(l => p.Second.Labels.TryGetValue(l.Key, out var v) && v == l.Value));

    private static string Shown(string key) => key.Length <= 200 && !key.Any(char.IsControl) ? key : "(a key too long or unprintable to show)";

    private static string Problem(Exception ex) => ex switch
    {
        HttpRequestException { StatusCode: { } status } => $"HTTP {(int)status}",
        HttpRequestException http => http.HttpRequestError.ToString(),
        OperationCanceledException => "no answer in time",
        JsonException or KeyNotFoundException or InvalidOperationException or FormatException => "an answer that is not etcd's",
        _ => ex.Message,
    };

    private sealed record Snapshot(long Version, FrozenDictionary<string, IReadOnlyList<MeshEndpoint>> Services);
}
