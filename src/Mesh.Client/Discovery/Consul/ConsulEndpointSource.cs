using Mesh.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.Discovery.Consul;

/// <summary>
/// Endpoints from Consul's catalog for the services whose source is <c>consul</c>: one <see cref="ConsulWatch"/> per
/// service, started the first time the catalog asks for it (which waits for its first answer, at most 2 seconds) and
/// replaced when the service's query changes. Its change token fires when any watched set changes.
/// </summary>
internal sealed class ConsulEndpointSource : IEndpointSource, IDisposable
{
    public const string SourceName = DiscoverySourceNames.Consul;

    private static readonly TimeSpan s_startupWait = TimeSpan.FromSeconds(2);
    private static readonly IChangeToken s_changed = new CancellationChangeToken(new CancellationToken(canceled: true));

    private readonly IOptionsFactory<MeshOptions> _optionsFactory;
    private readonly DiscoveryMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ConsulWatch> _watches = new(StringComparer.OrdinalIgnoreCase);
    private ConsulDiscoveryOptions? _options;
    private ConsulClient? _client;
    private CancellationTokenSource _changes = new();
    private bool _disposed;

    public ConsulEndpointSource(IOptionsFactory<MeshOptions> optionsFactory, DiscoveryMetrics metrics, TimeProvider time, ILogger<ConsulEndpointSource> logger)
    {
        _optionsFactory = optionsFactory;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    public string Name => SourceName;

    public bool TryGetEndpoints(string serviceName, MeshServiceOptions service, out IReadOnlyList<MeshEndpoint> endpoints)
    {
        var query = ConsulQuery.For(serviceName, service.Discovery);
        ConsulWatch watch;
        var started = false;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);

            // The source's settings are read once, when a service first uses it.
            _options ??= _optionsFactory.Create(Options.DefaultName).Discovery.Consul;
            _client ??= new ConsulClient(_options, _time);
            if (!_watches.TryGetValue(serviceName, out var existing) || existing.Query != query)
            {
                existing?.Dispose();
                watch = new ConsulWatch(serviceName, query, _client, _options, _time, _logger, _metrics, Changed);
                _watches[serviceName] = watch;
                watch.Start();
                started = true;
            }
            else
            {
                watch = existing;
            }
        }

        if (started)
        {
            // So the first request already finds the endpoints; an unreachable agent only delays the start, bounded.
            watch.FirstQuery.Wait(s_startupWait);
        }

        watch.Served = watch.Version;
        endpoints = watch.Current;
        return true;
    }

    public IChangeToken GetChangeToken()
    {
        var changes = Volatile.Read(ref _changes);
        lock (_lock)
        {
            // A change the catalog has not read yet (it happened while it was building) fires at once.
            foreach (var watch in _watches.Values)
            {
                if (watch.Version != watch.Served)
                {
                    return s_changed;
                }
            }
        }

        return new CancellationChangeToken(changes.Token);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var watch in _watches.Values)
            {
                watch.Dispose();
            }

            _watches.Clear();
            _client?.Dispose();
        }
    }

    private void Changed()
    {
        // The catalog rebuilds on another thread, never on the watch's (a rebuild may wait for a watch's first answer).
        var previous = Interlocked.Exchange(ref _changes, new CancellationTokenSource());
        ThreadPool.UnsafeQueueUserWorkItem(static p => p.Cancel(), previous, preferLocal: false);
    }
}
