using System.Globalization;
using System.Text;
using Mesh.AspNetCore.Health;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Registration;

/// <summary>
/// The application's health checks that registration waits for: with <c>Mesh:Server:HealthCheckTag</c> unset, every
/// registered check but the mesh's own (<c>mesh</c>, which speaks of the control plane registration already retries
/// against); with it set, the checks carrying that tag. Without such checks there is nothing to wait for. One loop runs
/// them every interval for every registry the instance registers with (meshd, Consul), from the first registration's
/// start to the last one's stop; a change between passing and failing is logged once and wakes every registration.
/// </summary>
internal sealed partial class RegistrationHealth : IDisposable
{
    private const int MaxListed = 8;
    private const int MaxDescription = 200;
    private static readonly TimeSpan s_minRunTime = TimeSpan.FromSeconds(10);

    private readonly HealthCheckService? _checks;
    private readonly Func<HealthCheckRegistration, bool> _predicate;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile HealthVerdict? _verdict;
    private CancellationTokenSource? _stop;
    private Task _loop = Task.CompletedTask;
    private int _users;

    public RegistrationHealth(IServiceProvider services, IOptions<MeshServerOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        var tag = options.Value.HealthCheckTag;
        _predicate = tag is null ? static r => r.Name != MeshReadinessCheck.Name : r => r.Tags.Contains(tag);
        var registrations = services.GetService<IOptions<HealthCheckServiceOptions>>()?.Value.Registrations ?? [];
        Selected = [.. registrations.Where(_predicate).Select(r => r.Name).Order(StringComparer.Ordinal)];
        _checks = Selected.Count == 0 ? null : services.GetService<HealthCheckService>();
        Interval = options.Value.HealthCheckInterval;
        _time = time;
        _logger = loggers.CreateLogger(MeshRegistration.LogCategory);
    }

    /// <summary>Gets the names of the checks registration waits for.</summary>
    public IReadOnlyList<string> Selected { get; }

    /// <summary>Gets whether registration waits for health checks.</summary>
    public bool IsGated => _checks is not null;

    /// <summary>Gets how often the checks run.</summary>
    public TimeSpan Interval { get; }

    /// <summary>
    /// Gets the verdict of the last run of the checks: <see cref="HealthVerdict.Pass"/> when there is nothing to wait for,
    /// <see langword="null"/> until the first run answered.
    /// </summary>
    public HealthVerdict? Verdict => IsGated ? _verdict : HealthVerdict.Pass;

    /// <summary>Gets a task that completes at the next change between passing and failing. Take it before reading <see cref="Verdict"/>.</summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    /// <summary>
    /// Starts the checks' loop for <paramref name="service"/> instance <paramref name="instanceId"/>, unless another
    /// registration started it already; each call is matched by one <see cref="LeaveAsync"/>.
    /// </summary>
    public void Join(string service, string instanceId)
    {
        lock (_lock)
        {
            if (_users++ > 0 || _checks is null)
            {
                return;
            }

            LogWaitsForHealth(_logger, service, string.Join(", ", Selected), Interval.TotalSeconds);
            _stop = new CancellationTokenSource();
            var stop = _stop.Token;
            _loop = Task.Run(() => WatchAsync(service, instanceId, stop), CancellationToken.None);
        }
    }

    /// <summary>Stops the checks' loop once the last registration that joined it left.</summary>
    public async Task LeaveAsync()
    {
        CancellationTokenSource? stop;
        Task loop;
        lock (_lock)
        {
            if (_users == 0 || --_users > 0)
            {
                return;
            }

            (stop, _stop, loop) = (_stop, null, _loop);
        }

        if (stop is not null)
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            stop.Dispose();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _stop?.Cancel();
        }
    }

    /// <summary>
    /// Runs the selected checks once. Healthy and Degraded pass; a run that has not answered within the interval (10 s at
    /// least) fails, so a hung check cannot keep an instance registered.
    /// </summary>
    public async Task<HealthVerdict> CheckAsync(CancellationToken stop)
    {
        if (_checks is null)
        {
            return HealthVerdict.Pass;
        }

        using var bound = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var limit = Interval > s_minRunTime ? Interval : s_minRunTime;
        bound.CancelAfter(limit);
        try
        {
            var report = await _checks.CheckHealthAsync(_predicate, bound.Token).ConfigureAwait(false);
            return report.Status == HealthStatus.Unhealthy ? new HealthVerdict(false, Failing(report)) : HealthVerdict.Pass;
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return new HealthVerdict(false, string.Create(CultureInfo.InvariantCulture, $"the health checks did not answer within {limit.TotalSeconds:0.###} s"));
        }
    }

    // Runs the checks every interval; a change between passing and failing is logged and wakes the registrations.
    private async Task WatchAsync(string service, string instanceId, CancellationToken stop)
    {
        HealthVerdict? last = null;
        while (!stop.IsCancellationRequested)
        {
            HealthVerdict verdict;
            try
            {
                verdict = await CheckAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The checks' own failures become results; this is the health check service itself failing.
                verdict = new HealthVerdict(false, $"the health check service failed ({ex.GetType().Name})");
            }

            _verdict = verdict;
            if (last is null || last.Passes != verdict.Passes)
            {
                if (verdict.Passes)
                {
                    LogHealthPasses(_logger, service, instanceId);
                }
                else
                {
                    LogHealthFails(_logger, service, instanceId, verdict.Failing ?? "unhealthy");
                }

                Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }

            last = verdict;
            try
            {
                await Task.Delay(Interval, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // Names and descriptions only (never the data or the exception), bounded, control characters removed.
    private static string Failing(HealthReport report)
    {
        var text = new StringBuilder();
        var failing = report.Entries.Where(e => e.Value.Status == HealthStatus.Unhealthy).OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
        foreach (var (name, entry) in failing.Take(MaxListed))
        {
            if (text.Length > 0)
            {
                text.Append("; ");
            }

            Append(text, name);
            text.Append(": ");
            Append(text, entry.Description ?? "unhealthy");
        }

        if (failing.Count > MaxListed)
        {
            text.Append(CultureInfo.InvariantCulture, $"; and {failing.Count - MaxListed} more");
        }

        return text.ToString();
    }

    private static void Append(StringBuilder text, string value)
    {
        var count = 0;
        foreach (var c in value)
        {
            if (count++ == MaxDescription)
            {
                text.Append('…');
                return;
            }

            text.Append(char.IsControl(c) ? ' ' : c);
        }
    }
}

/// <summary>The outcome of one run of the checks registration waits for.</summary>
/// <param name="Passes">Whether the instance may take traffic.</param>
/// <param name="Failing">The failing checks' names and descriptions, when it may not.</param>
internal sealed record HealthVerdict(bool Passes, string? Failing)
{
    public static readonly HealthVerdict Pass = new(true, null);
}
