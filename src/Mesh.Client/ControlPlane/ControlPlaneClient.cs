using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using Mesh.Balancing;
using Mesh.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.ControlPlane;

/// <summary>
/// Watches the control plane: long-polls <c>GET /v1/snapshot</c>, validates each snapshot whole with the mesh's own
/// binder and validator, and applies the good ones as configuration keys and endpoints; keeps the last good one on
/// disk and starts from it. While the control plane is away, the last good snapshot stays in force; reconnects back
/// off exponentially with full jitter and rotate through the configured addresses.
/// </summary>
internal sealed partial class ControlPlaneClient : IDisposable, IAsyncDisposable
{
    /// <summary>The logging category of the control-plane client.</summary>
    public const string LogCategory = "Mesh.ControlPlane";

    /// <summary>The name of the cache file in the cache directory.</summary>
    public const string CacheFileName = "snapshot.json";

    internal static readonly TimeSpan BackoffBase = TimeSpan.FromMilliseconds(100);
    internal static readonly TimeSpan BackoffCap = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(2);

    private readonly IOptionsFactory<MeshOptions> _optionsFactory;
    private readonly MeshConfigurationRoot _root;
    private readonly MeshOptionsValidator _validator;
    private readonly ControlPlaneMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly MeshRandom _random;
    private readonly ILogger _logger;
    private readonly Lock _applyLock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstAnswer = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile ControlPlaneSnapshot _current = ControlPlaneSnapshot.Empty;
    private byte[]? _lastRejected;
    private HttpClient? _http;
    private Task _loop = Task.CompletedTask;
    private int _started;
    private long _rejected;
    private int _disposed;

    public ControlPlaneClient(
        IOptionsFactory<MeshOptions> optionsFactory,
        MeshConfigurationRoot root,
        MeshOptionsValidator validator,
        ControlPlaneMetrics metrics,
        TimeProvider time,
        MeshRandom random,
        ILoggerFactory loggers)
    {
        _optionsFactory = optionsFactory;
        _root = root;
        _validator = validator;
        _metrics = metrics;
        _time = time;
        _random = random;
        _logger = loggers.CreateLogger(LogCategory);
    }

    /// <summary>Gets whether a control plane is configured; read once, at start.</summary>
    public bool IsEnabled { get; private set; }

    /// <summary>Gets the last good snapshot, in force now.</summary>
    public ControlPlaneSnapshot Current => _current;

    /// <summary>Gets how many snapshots were refused since start.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Gets the addresses of the control plane, in the order they are tried.</summary>
    public IReadOnlyList<Uri> Addresses { get; private set; } = [];

    /// <summary>Gets the path of the cache file.</summary>
    public string? CachePath { get; private set; }

    /// <summary>
    /// Loads the cached snapshot and starts watching, once. Without a cached snapshot, waits up to
    /// <see cref="ControlPlaneOptions.StartupWait"/> for the control plane's first answer.
    /// </summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }

        var options = _optionsFactory.Create(Options.DefaultName);
        var controlPlane = options.ControlPlane;
        if (!controlPlane.IsEnabled || _validator.Validate(Options.DefaultName, options) is { Failed: true } invalid && ControlPlaneFailures(invalid).Any())
        {
            // Invalid control-plane settings are reported by the catalog's validation at start-up.
            return;
        }

        IsEnabled = true;
        Addresses = [.. controlPlane.AllAddresses().Select(a => new Uri(a.EndsWith('/') ? a : a + "/", UriKind.Absolute))];
        CachePath = Path.Combine(controlPlane.CacheDirectory ?? DefaultCacheDirectory(options.ServiceName), CacheFileName);
        var cached = LoadCache();

        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = s_connectTimeout, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (!string.IsNullOrEmpty(controlPlane.Token))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", controlPlane.Token);
        }

        var wait = controlPlane.WaitTime;
        _loop = Task.Run(() => WatchAsync(wait, _stop.Token));
        if (!cached && controlPlane.StartupWait > TimeSpan.Zero && !_firstAnswer.Task.Wait(controlPlane.StartupWait))
        {
            LogStartedWithoutSnapshot(_logger, controlPlane.StartupWait.TotalSeconds);
        }
    }

    /// <summary>The default cache directory: one per service, under the local application data directory.</summary>
    internal static string DefaultCacheDirectory(string? serviceName)
    {
        var name = serviceName ?? Assembly.GetEntryAssembly()?.GetName().Name ?? "app";
        foreach (var c in Path.GetInvalidFileNameChars())
        {
            name = name.Replace(c, '_');
        }

        var baseDirectory = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(baseDirectory))
        {
            baseDirectory = Path.GetTempPath();
        }

        return Path.Combine(baseDirectory, "mesh", name);
    }

    /// <summary>Validates a snapshot whole and applies it; a bad one is refused, logged and counted, and the last good one stays.</summary>
    /// <returns><see langword="true"/> when the snapshot is in force (applied now or already).</returns>
    internal bool TryApply(byte[] body, string origin, bool writeCache)
    {
        lock (_applyLock)
        {
            if (_current.Body.AsSpan().SequenceEqual(body))
            {
                return true;
            }

            if (_lastRejected is not null && _lastRejected.AsSpan().SequenceEqual(body))
            {
                return false;
            }

            var failures = new List<string>();
            var snapshot = ControlPlaneSnapshot.TryParse(body, failures);
            if (snapshot is not null)
            {
                Trial(snapshot, failures);
            }

            if (snapshot is null || failures.Count > 0)
            {
                // Logged before it is counted, so whoever sees the count also finds the reason.
                _lastRejected = body;
                LogRejected(_logger, origin, _current.Version, string.Join(" ", failures));
                _metrics.Rejected.Add(1, new KeyValuePair<string, object?>("mesh.control_plane.source", origin));
                Interlocked.Increment(ref _rejected);
                return false;
            }

            var previous = _current;
            _current = snapshot;
            _metrics.Applied.Add(1, new KeyValuePair<string, object?>("mesh.control_plane.source", origin));

            // One reload carries policies and instances together; the catalog rebuilds from both.
            _root.ControlPlane.Replace(snapshot.Keys);
            LogApplied(_logger, snapshot.Version, origin, snapshot.Instances.Count, previous.Version);
        }

        if (writeCache)
        {
            WriteCache(body);
        }

        return true;
    }

    /// <summary>Binds the snapshot under the application's configuration into trial options and runs the one validator over them.</summary>
    private void Trial(ControlPlaneSnapshot snapshot, List<string> failures)
    {
        var provider = new ControlPlaneConfigurationProvider();
        provider.Replace(snapshot.Keys);
        using var configuration = MeshConfigurationRoot.Compose(provider, _root.Application);
        var trial = new MeshOptions();
        MeshConfigurationBinder.Bind(configuration, trial);
        foreach (var (name, service) in trial.Services)
        {
            if (service is not null && service.Endpoints.Count == 0 && snapshot.Instances.TryGetValue(name, out var instances))
            {
                foreach (var instance in instances)
                {
                    var endpoint = new Discovery.MeshEndpointOptions(instance.Address.ToString()) { Zone = instance.Zone, Weight = instance.Weight };
                    service.Endpoints.Add(endpoint);
                }
            }
        }

        var result = _validator.Validate(Options.DefaultName, trial);
        if (result.Failed)
        {
            failures.AddRange(result.Failures);
        }
    }

    private bool LoadCache()
    {
        byte[] body;
        try
        {
            if (!File.Exists(CachePath))
            {
                LogNoCache(_logger, CachePath!);
                return false;
            }

            body = File.ReadAllBytes(CachePath!);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogCacheUnreadable(_logger, CachePath!, ex.Message);
            return false;
        }

        var applied = TryApply(body, "cache", writeCache: false);
        if (applied)
        {
            LogCacheLoaded(_logger, _current.Version, CachePath!);
        }

        return applied;
    }

    private void WriteCache(byte[] body)
    {
        var path = CachePath!;
        var temporary = $"{path}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);

            // Written aside, then renamed over the old one: a reader sees the old snapshot or the new, never half of one.
            File.WriteAllBytes(temporary, body);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogCacheUnwritable(_logger, path, ex.Message);
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // The leftover temporary file is harmless; the next write uses another name.
            }
        }
    }

    private async Task WatchAsync(TimeSpan wait, CancellationToken stop)
    {
        var failures = 0;
        var index = 0;
        long? since = null;
        var reachable = true;
        while (!stop.IsCancellationRequested)
        {
            var address = Addresses[index];
            string? problem;
            try
            {
                (problem, var version) = await PollAsync(address, since, wait, stop).ConfigureAwait(false);
                if (problem is null)
                {
                    since = version;
                    failures = 0;
                    if (!reachable)
                    {
                        reachable = true;
                        LogReconnected(_logger, address, _current.Version);
                    }

                    _firstAnswer.TrySetResult();
                    continue;
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Whatever goes wrong with one request, the watch goes on with the last good snapshot.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                problem = ex is OperationCanceledException ? "no answer in time" : $"{ex.GetType().Name}: {ex.Message}";
            }

            _metrics.WatchFailures.Add(1);
            failures++;
            var delay = Backoff(failures, _random);
            if (reachable)
            {
                reachable = false;
                LogUnreachable(_logger, address, problem, _current.Version);
            }
            else
            {
                LogStillUnreachable(_logger, address, problem, failures, delay.TotalMilliseconds);
            }

            // After a failure: the next replica, and a whole snapshot, since the control plane may have restarted.
            index = (index + 1) % Addresses.Count;
            since = null;
            try
            {
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Full jitter: a random wait between 0 and <c>min(cap, base · 2^(failures-1))</c>, so reconnecting clients spread out.</summary>
    internal static TimeSpan Backoff(int failures, MeshRandom random)
    {
        var ceiling = Math.Min(BackoffCap.TotalMilliseconds, BackoffBase.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 30)));
        return TimeSpan.FromMilliseconds(random.NextDouble() * ceiling);
    }

    private async Task<(string? Problem, long? Version)> PollAsync(Uri address, long? since, TimeSpan wait, CancellationToken stop)
    {
        var query = since is { } v
            ? $"v1/snapshot?since={v.ToString(CultureInfo.InvariantCulture)}&wait={((int)wait.TotalSeconds).ToString(CultureInfo.InvariantCulture)}"
            : "v1/snapshot";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);

        // The control plane answers within the wait plus its 10% jitter; past that, the connection is presumed dead.
        timeout.CancelAfter(wait * 1.1 + TimeSpan.FromSeconds(5));
        using var response = await _http!.GetAsync(new Uri(address, query), HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotModified)
        {
            return (null, since);
        }

        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            LogTokenRefused(_logger, address, (int)response.StatusCode);
            return ($"status {(int)response.StatusCode}", null);
        }

        if (response.StatusCode != HttpStatusCode.OK)
        {
            return ($"status {(int)response.StatusCode}", null);
        }

        var body = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
        TryApply(body, "control-plane", writeCache: true);

        // Watch from the version just seen, applied or refused, so a refused one is not sent again at once.
        return (null, ReadVersion(body) ?? since);
    }

    private static long? ReadVersion(byte[] body)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(body);
            return document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && document.RootElement.TryGetProperty("version", out var v) && v.TryGetInt64(out var version) ? version : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static IEnumerable<string> ControlPlaneFailures(ValidateOptionsResult result) =>
        (result.Failures ?? []).Where(f => f.StartsWith($"{MeshOptionsValidator.Section}:ControlPlane", StringComparison.Ordinal));

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop ends on cancellation; nothing else to report while disposing.
        }

        _http?.Dispose();
        _stop.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _http?.Dispose();
        _stop.Dispose();
    }
}
