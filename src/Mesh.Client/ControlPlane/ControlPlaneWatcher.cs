using System.Globalization;
using System.Reflection;
using Mesh.Configuration;
using Mesh.Discovery;
using Mesh.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.ControlPlane;

/// <summary>
/// Watches the control plane: long-polls its snapshot through <see cref="MeshdClient"/>, validates each snapshot whole
/// with the mesh's own binder and validator, and applies the good ones as configuration keys (policies) and endpoints
/// (instances); keeps the last good one on disk and starts from it. While the control plane is away, the last good
/// snapshot stays in force; reconnects back off with full jitter and move through the configured addresses.
/// Started by the host (or by a client's first request), never by a constructor.
/// </summary>
internal sealed partial class ControlPlaneWatcher : IDisposable, IAsyncDisposable
{
    /// <summary>The logging category of the control-plane client.</summary>
    public const string LogCategory = "Mesh.ControlPlane";

    /// <summary>The most service names remembered as named by the control plane.</summary>
    internal const int MaxNamed = 10_000;

    /// <summary>The name of the cache file in the cache directory.</summary>
    public const string CacheFileName = "snapshot.json";

    private readonly IOptionsFactory<MeshOptions> _optionsFactory;
    private readonly MeshConfigurationRoot _root;
    private readonly MeshOptionsValidator _validator;
    private readonly MeshdClient _meshd;
    private readonly WorkloadCertificate _workload;
    private readonly ControlPlaneMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _applyLock = new();
    private readonly Lock _startLock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstAnswer = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile ControlPlaneSnapshot _current = ControlPlaneSnapshot.Empty;
    private volatile Task? _started;
    private byte[]? _lastRejected;
    private Task _loop = Task.CompletedTask;
    private long _rejected;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _named = new(StringComparer.OrdinalIgnoreCase);
    private volatile string? _problem;
    private int _disposed;
    private bool _takesBundle;

    public ControlPlaneWatcher(
        IOptionsFactory<MeshOptions> optionsFactory,
        MeshConfigurationRoot root,
        MeshOptionsValidator validator,
        MeshdClient meshd,
        WorkloadCertificate workload,
        ControlPlaneMetrics metrics,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        _optionsFactory = optionsFactory;
        _root = root;
        _validator = validator;
        _meshd = meshd;
        _workload = workload;
        _metrics = metrics;
        _time = time;
        _logger = loggers.CreateLogger(LogCategory);
    }

    /// <summary>Gets whether a control plane is configured (<c>Mesh:ControlPlane:Address</c>); read once, at start.</summary>
    public bool IsConfigured => _meshd.IsEnabled;

    /// <summary>Gets whether the watcher runs: a control plane is configured, with valid settings, and it was started.</summary>
    public bool IsEnabled { get; private set; }

    /// <summary>Gets the last good snapshot, in force now.</summary>
    public ControlPlaneSnapshot Current => _current;

    /// <summary>Gets how many snapshots were refused since start.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Gets the addresses of the control plane, in the order they are tried.</summary>
    public IReadOnlyList<Uri> Addresses => _meshd.Addresses;

    /// <summary>
    /// Gets what went wrong with the last request to the control plane (<c>meshd at http://… refused the token (status
    /// 401)</c>), or <see langword="null"/> while its last answer was good.
    /// </summary>
    public string? Problem => _problem;

    /// <summary>Whether a snapshot applied in this process named <paramref name="service"/>, now or earlier.</summary>
    public bool HasNamed(string service) => _named.ContainsKey(service);

    /// <summary>Gets the path of the cache file, once started.</summary>
    public string? CachePath { get; private set; }

    /// <summary>
    /// Starts watching, once: loads the cached snapshot, then follows the control plane. The task completes when a
    /// snapshot is in force (cached or received), or after <see cref="ControlPlaneOptions.StartupWait"/> without one,
    /// or at once without a control plane. It never fails.
    /// </summary>
    public Task StartAsync()
    {
        if (_started is { } started)
        {
            return started;
        }

        lock (_startLock)
        {
            return _started ??= Task.Run(StartCoreAsync);
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
            foreach (var name in snapshot.Instances.Keys)
            {
                // Bounded, so a control plane that names ever new services cannot grow it without end.
                if (_named.Count < MaxNamed)
                {
                    _named.TryAdd(name, 0);
                }
            }

            _metrics.Applied.Add(1, new KeyValuePair<string, object?>("mesh.control_plane.source", origin));

            // The trust bundle first, so the endpoints that come with it are trusted from the first call.
            if (_takesBundle && snapshot.Bundle is { } bundle)
            {
                _workload.UpdateBundle(bundle);
            }

            // One reload carries policies and instances together; the catalog rebuilds from both.
            _root.Pushed.Replace(snapshot.Keys);
            LogApplied(_logger, snapshot.Version, origin, snapshot.Instances.Count, previous.Version);
        }

        if (writeCache)
        {
            WriteCache(body);
        }

        return true;
    }

    private async Task StartCoreAsync()
    {
        var options = _optionsFactory.Create(Options.DefaultName);
        var controlPlane = options.ControlPlane;
        if (!_meshd.IsEnabled || _validator.Validate(Options.DefaultName, options) is { Failed: true } invalid && ControlPlaneFailures(invalid).Any())
        {
            // Invalid control-plane settings are reported by the catalog's validation at start-up.
            return;
        }

        IsEnabled = true;

        // Roots come from meshd only when its certificate authority signs this workload's certificate; files bring their own.
        _takesBundle = string.Equals(options.Identity.Source, IdentitySourceNames.Meshd, StringComparison.OrdinalIgnoreCase);
        CachePath = Path.Combine(controlPlane.CacheDirectory ?? DefaultCacheDirectory(options.ServiceName), CacheFileName);
        var cached = LoadCache();
        _loop = WatchAsync(controlPlane.WaitTime, _stop.Token);
        if (cached || controlPlane.StartupWait <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            await _firstAnswer.Task.WaitAsync(controlPlane.StartupWait, _time, _stop.Token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogStartedWithoutSnapshot(_logger, controlPlane.StartupWait.TotalSeconds);
        }
        catch (OperationCanceledException)
        {
            // Disposed while starting.
        }
    }

    /// <summary>Binds the snapshot under the application's configuration into trial options and runs the one validator over them.</summary>
    private void Trial(ControlPlaneSnapshot snapshot, List<string> failures)
    {
        var provider = new PushedConfigurationProvider();
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
                    service.Endpoints.Add(new MeshEndpointOptions(instance.Address.ToString()) { Zone = instance.Zone, Weight = instance.Weight });
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
        long? since = null;
        var reachable = true;
        while (!stop.IsCancellationRequested)
        {
            var address = _meshd.Current;
            string? problem;
            TimeSpan? retryAfter = null;
            try
            {
                (problem, var version, retryAfter) = await PollAsync(since, wait, stop).ConfigureAwait(false);
                if (problem is null)
                {
                    since = version;
                    failures = 0;
                    _problem = null;
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
            _problem = $"meshd at {address} {(problem.StartsWith("refused", StringComparison.Ordinal) ? problem : $"could not be watched: {problem}")}";
            failures++;
            var delay = _meshd.Backoff(failures, retryAfter);
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
            _meshd.Rotate(address);
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

    private async Task<(string? Problem, long? Version, TimeSpan? RetryAfter)> PollAsync(long? since, TimeSpan wait, CancellationToken stop)
    {
        var answer = await _meshd.GetSnapshotAsync(since, wait, stop).ConfigureAwait(false);
        if (answer.Status == System.Net.HttpStatusCode.NotModified)
        {
            return (null, since, null);
        }

        if (answer.IsRefused)
        {
            LogTokenRefused(_logger, answer.Address, (int)answer.Status);
        }

        if (answer.IsRefused)
        {
            return ($"refused the token (status {(int)answer.Status}): check Mesh:ControlPlane:Token", null, answer.RetryAfter);
        }

        if (answer.Document is not { } body)
        {
            // At a limit (429) or unable to serve (503), meshd says when to come back; the next try waits at least that.
            var asked = answer.RetryAfter is { } retryAfter ? $", asked to wait {retryAfter.TotalSeconds:0.#} s" : string.Empty;
            return ($"status {(int)answer.Status}{asked}", null, answer.RetryAfter);
        }

        TryApply(body, "control-plane", writeCache: true);

        // Watch from the version just seen, applied or refused, so a refused one is not sent again at once.
        return (null, ControlPlaneSnapshot.ReadVersion(body) ?? since, null);
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
        _stop.Dispose();
    }
}
