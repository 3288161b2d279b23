using System.Collections.Concurrent;
using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Mesh.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.Discovery.Kubernetes;

/// <summary>
/// Endpoints from the <c>discovery.k8s.io/v1</c> EndpointSlices of a Kubernetes service, for the services whose source is
/// <c>kubernetes</c>. Each service (namespace and name) has one watch: a list of the slices labelled
/// <c>kubernetes.io/service-name</c>, then a watch from the list's resource version; a watch that ends resumes from the last
/// resource version seen (bookmarks included), and one refused with 410 Gone lists again. While the API server cannot be
/// reached or answers garbage, the last good endpoints stay in force; the failure is logged as a warning once, then at most
/// once a minute while it lasts.
/// </summary>
internal sealed partial class KubernetesEndpointSource : IEndpointSource, IDisposable
{
    public const string SourceName = DiscoverySourceNames.Kubernetes;

    private static readonly TimeSpan s_startupWait = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_warningInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan s_minBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_listTimeout = TimeSpan.FromSeconds(10);
    private const int WatchSeconds = 300;
    private static readonly IChangeToken s_changed = new CancellationChangeToken(new CancellationToken(canceled: true));

    private readonly IOptionsFactory<MeshOptions> _optionsFactory;
    private readonly DiscoveryMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<(string Namespace, string Name, string? PortName, int? Port), Watch> _watches = new();
    private CancellationTokenSource _changes = new();
    private long _version;
    private long _lowestRead = long.MaxValue;
    private MeshDiscoveryOptions? _settings;
    private k8s.Kubernetes? _client;
    private bool _configured;

    public KubernetesEndpointSource(IOptionsFactory<MeshOptions> optionsFactory, DiscoveryMetrics metrics, TimeProvider time, ILogger<KubernetesEndpointSource> logger)
    {
        _optionsFactory = optionsFactory;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    public string Name => SourceName;

    public bool TryGetEndpoints(string serviceName, MeshServiceOptions service, out IReadOnlyList<MeshEndpoint> endpoints)
    {
        var settings = Settings().Kubernetes;
        if (Client(settings) is not { } client)
        {
            endpoints = [];
            return false;
        }

        // One watch per Kubernetes service and port: two mesh services may read one Kubernetes service on different ports.
        var key = (service.Discovery.Namespace ?? settings.Namespace, service.Discovery.Name ?? serviceName, service.Discovery.PortName, service.Discovery.Port);
        var watch = _watches.GetOrAdd(key, k => new Watch(this, client, k.Item1, k.Item2, service.Discovery, settings.Scheme));
        watch.EnsureStarted();
        var version = Interlocked.Read(ref _version);
        long current;
        while ((current = Interlocked.Read(ref _lowestRead)) > version && Interlocked.CompareExchange(ref _lowestRead, version, current) != current)
        {
        }

        endpoints = watch.Endpoints;
        return true;
    }

    /// <summary>The last resource version the watch of a service has seen, or <see langword="null"/>.</summary>
    internal string? LastResourceVersion(string ns, string name) =>
        _watches.FirstOrDefault(w => w.Key.Namespace == ns && w.Key.Name == name).Value?.ResourceVersion;

    public IChangeToken GetChangeToken()
    {
        var changes = Volatile.Read(ref _changes);

        // A change after what the catalog last read (while it was building) fires at once.
        var lowest = Interlocked.Exchange(ref _lowestRead, long.MaxValue);
        return lowest < Interlocked.Read(ref _version) ? s_changed : new CancellationChangeToken(changes.Token);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _client?.Dispose();
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

    private k8s.Kubernetes? Client(KubernetesDiscoveryOptions settings)
    {
        lock (_lock)
        {
            if (_configured)
            {
                return _client;
            }

            _configured = true;
            try
            {
                KubernetesClientConfiguration config;
                if (settings.Kubeconfig is { } path)
                {
                    config = KubernetesClientConfiguration.BuildConfigFromConfigFile(path);
                }
                else if (KubernetesClientConfiguration.IsInCluster())
                {
                    config = KubernetesClientConfiguration.InClusterConfig();
                }
                else
                {
                    LogBadConfiguration(_logger, SourceName, "no kubeconfig is set and KUBERNETES_SERVICE_HOST is not");
                    return null;
                }

                // Watches last longer than any client-side timeout; lists are bounded by their own deadline.
                config.HttpClientTimeout = Timeout.InfiniteTimeSpan;
                _client = new k8s.Kubernetes(config);
            }
#pragma warning disable CA1031 // A configuration that cannot be read leaves the source without services, and says why.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogBadConfiguration(_logger, SourceName, ex.GetType().Name);
            }

            return _client;
        }
    }

    private void Changed()
    {
        Interlocked.Increment(ref _version);
        var changes = Interlocked.Exchange(ref _changes, new CancellationTokenSource());
        ThreadPool.UnsafeQueueUserWorkItem(static c => c.Cancel(), changes, preferLocal: false);
    }

    private static string Problem(Exception ex) => Garbage(ex) ? "an answer that could not be read" : ex switch
    {
        HttpOperationException { Response.StatusCode: var status } => $"HTTP {(int)status}",
        KubernetesException { Status.Code: { } code } => $"watch error {code}",
        HttpRequestException { StatusCode: { } status } => $"HTTP {(int)status}",
        HttpRequestException http => http.HttpRequestError.ToString(),
        OperationCanceledException => "no answer in time",
        InvalidOperationException => "an answer that is not the API server's",
        _ => ex.GetType().Name,
    };

    /// <summary>Whether the failure, or one it wraps, is an answer that could not be read: not JSON, or cut short.</summary>
    private static bool Garbage(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is System.Text.Json.JsonException or FormatException or EndOfStreamException)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsGone(Exception ex) => ex switch
    {
        HttpOperationException { Response.StatusCode: HttpStatusCode.Gone } => true,
        KubernetesException { Status.Code: 410 } => true,
        _ => false,
    };

    /// <summary>The list-then-watch loop of one Kubernetes service, and its current endpoints.</summary>
    private sealed class Watch(KubernetesEndpointSource owner, IKubernetes client, string ns, string name, ServiceDiscoveryOptions service, string scheme)
    {
        private readonly TaskCompletionSource _firstList = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Dictionary<string, V1EndpointSlice> _slices = new(StringComparer.Ordinal);
        private readonly string _service = ns + "/" + name;
        private IReadOnlyList<MeshEndpoint> _endpoints = [];
        private int _started;
        private string? _resourceVersion;

        public IReadOnlyList<MeshEndpoint> Endpoints => Volatile.Read(ref _endpoints);

        public string? ResourceVersion => Volatile.Read(ref _resourceVersion);

        public void EnsureStarted()
        {
            if (Interlocked.Exchange(ref _started, 1) == 0)
            {
                _ = Task.Run(RunAsync);
            }

            // So the first request already finds the endpoints; an unreachable API server only delays the start, bounded.
            _firstList.Task.Wait(s_startupWait);
        }

        private async Task RunAsync()
        {
            var token = owner._stop.Token;
            var selector = "kubernetes.io/service-name=" + name;
            var failures = 0;
            long lastWarning = 0;
            string? resourceVersion = null;
            while (!token.IsCancellationRequested)
            {
                try
                {
                    if (resourceVersion is null)
                    {
                        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
                        deadline.CancelAfter(s_listTimeout);
                        var list = await client.DiscoveryV1.ListNamespacedEndpointSliceAsync(ns, labelSelector: selector, cancellationToken: deadline.Token).ConfigureAwait(false);
                        resourceVersion = list.Metadata?.ResourceVersion ?? throw new InvalidOperationException("a list without a resource version");
                        Volatile.Write(ref _resourceVersion, resourceVersion);
                        _slices.Clear();
                        foreach (var slice in list.Items ?? [])
                        {
                            Put(slice);
                        }

                        Publish();
                        _firstList.TrySetResult();
                    }

                    using var watchStop = CancellationTokenSource.CreateLinkedTokenSource(token);
                    Exception? watchError = null;
                    var response = client.DiscoveryV1.ListNamespacedEndpointSliceWithHttpMessagesAsync(
                        ns, allowWatchBookmarks: true, labelSelector: selector, resourceVersion: resourceVersion, timeoutSeconds: WatchSeconds, watch: true, cancellationToken: watchStop.Token);
                    var events = 0;
                    try
                    {
#pragma warning disable CS0618 // The response-task form is the one that takes an error callback for ERROR events of the stream.
                        await foreach (var (type, slice) in response.WatchAsync<V1EndpointSlice, V1EndpointSliceList>(
                            ex => { watchError ??= ex; watchStop.Cancel(); }, watchStop.Token).ConfigureAwait(false))
#pragma warning restore CS0618
                        {
                            if (events++ == 0 && failures > 0)
                            {
                                LogReconnected(owner._logger, SourceName, _service, failures);
                                failures = 0;
                            }

                            resourceVersion = slice?.Metadata?.ResourceVersion ?? resourceVersion;
                            Volatile.Write(ref _resourceVersion, resourceVersion);
                            switch (type)
                            {
                                case WatchEventType.Added or WatchEventType.Modified when slice is not null:
                                    Put(slice);
                                    Publish();
                                    break;
                                case WatchEventType.Deleted when slice?.Metadata?.Name is { } deleted:
                                    _slices.Remove(deleted);
                                    Publish();
                                    break;
                            }
                        }
                    }
                    catch (OperationCanceledException) when (watchError is not null && !token.IsCancellationRequested)
                    {
                    }

                    if (watchError is not null)
                    {
                        throw watchError;
                    }

                    if (failures > 0)
                    {
                        LogReconnected(owner._logger, SourceName, _service, failures);
                        failures = 0;
                    }

                    SetLive(true);
                    if (events == 0)
                    {
                        // A watch that ends at once, again and again, must not become a busy loop.
                        await Task.Delay(s_minBackoff, owner._time, token).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return;
                }
#pragma warning disable CA1031 // Whatever the API server answers or the network does, the last good endpoints stay.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    if (token.IsCancellationRequested)
                    {
                        // Shutting down: the client may already be disposed; nothing to report.
                        return;
                    }

                    if (IsGone(ex))
                    {
                        LogGone(owner._logger, SourceName, _service, resourceVersion ?? "?");
                        resourceVersion = null;
                        try
                        {
                            // Listing again at once is right; a server that answers 410 to every watch must not make it a busy loop.
                            await Task.Delay(s_minBackoff, owner._time, token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            return;
                        }

                        continue;
                    }

                    SetLive(false);
                    failures++;
                    owner._metrics.Failures.Add(1, DiscoveryMetrics.Tags(SourceName, _service));
                    var now = owner._time.GetTimestamp();
                    if (failures == 1 || owner._time.GetElapsedTime(lastWarning, now) >= s_warningInterval)
                    {
                        lastWarning = now;
                        LogUnreachable(owner._logger, SourceName, _service, Problem(ex), failures, Endpoints.Count);
                    }
                    else
                    {
                        LogStillUnreachable(owner._logger, SourceName, _service, Problem(ex), failures);
                    }

                    _firstList.TrySetResult();
                    var backoff = s_minBackoff * Math.Pow(2, Math.Min(failures - 1, 10));
                    try
                    {
                        await Task.Delay(backoff < s_maxBackoff ? backoff : s_maxBackoff, owner._time, token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }
        }

        private void Put(V1EndpointSlice slice)
        {
            if (slice.Metadata?.Name is not { } sliceName)
            {
                return;
            }

            if (!_slices.ContainsKey(sliceName) && _slices.Count >= EndpointSlices.MaxSlices)
            {
                LogTooMany(owner._logger, SourceName, _service, EndpointSlices.MaxSlices, "slices");
                return;
            }

            _slices[sliceName] = slice;
        }

        /// <summary>Merges the slices into the endpoint set and, when it differs from the one in force, makes it the one in force.</summary>
        private void Publish()
        {
            // One address in two slices (as during a slice's replacement) counts once, ready before draining.
            var merged = new Dictionary<Uri, MeshEndpoint>();
            foreach (var slice in _slices.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => s.Value))
            {
                foreach (var endpoint in EndpointSlices.Endpoints(slice, service, scheme))
                {
                    if (merged.Count >= EndpointSlices.MaxEndpoints && !merged.ContainsKey(endpoint.Address))
                    {
                        LogTooMany(owner._logger, SourceName, _service, EndpointSlices.MaxEndpoints, "endpoints");
                        break;
                    }

                    if (!merged.TryGetValue(endpoint.Address, out var existing) || existing.Weight < endpoint.Weight)
                    {
                        merged[endpoint.Address] = endpoint;
                    }
                }
            }

            IReadOnlyList<MeshEndpoint> next = [.. merged.Values.OrderBy(e => e.Address.OriginalString, StringComparer.Ordinal)];
            var now = owner._time.GetTimestamp();
            owner._metrics.Lookups.Add(1, DiscoveryMetrics.Tags(SourceName, _service));
            var state = owner._metrics.Of(SourceName, _service);
            state.Live = true;
            state.Good(next.Count, now);
            if (Same(Endpoints, next))
            {
                return;
            }

            Volatile.Write(ref _endpoints, next);
            LogChanged(owner._logger, SourceName, _service, next.Count);
            owner.Changed();
        }

        private void SetLive(bool live)
        {
            var state = owner._metrics.Of(SourceName, _service);
            state.Live = live;
            if (live)
            {
                state.Good(state.Endpoints, owner._time.GetTimestamp());
            }
        }

        private static bool Same(IReadOnlyList<MeshEndpoint> a, IReadOnlyList<MeshEndpoint> b) =>
            a.Count == b.Count && a.Zip(b).All(p => p.First.Address == p.Second.Address && p.First.Weight == p.Second.Weight && p.First.Zone == p.Second.Zone
                && p.First.Labels.Count == p.Second.Labels.Count && p.First.Labels.All(l => p.Second.Labels.TryGetValue(l.Key, out var v) && v == l.Value));
    }
}
