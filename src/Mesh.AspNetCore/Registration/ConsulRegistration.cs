using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Mesh.Utilities;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Registration;

/// <summary>
/// Registers this service with a Consul agent once the server listens (<c>PUT /v1/agent/service/register</c>, with a TTL
/// check), passes the check every third of its TTL (registering again when the agent no longer knows it), and on a
/// graceful shutdown deregisters before the drain. Failures are retried with a jittered back-off and logged at most once
/// per TTL; once registered, no wait between tries is longer than a third of the TTL, so the check does not turn
/// critical while the agent is briefly away. The token travels only in <c>X-Consul-Token</c>.
/// With health checks of the application's own (<see cref="RegistrationHealth"/>, the same verdict meshd's registration
/// follows), it registers only once they pass; when they fail it marks its check critical
/// (<c>PUT /v1/agent/check/fail/…</c>, the failing checks as the note), so the agent's queries for passing instances
/// and its DNS leave it out at once while the catalog still shows it and why, and the agent removes it after a minute
/// critical; when they recover it passes its check again (or registers again, had the agent removed it).
/// </summary>
internal sealed partial class ConsulRegistration(
    ServerInstance instance,
    MeshRegistration meshd,
    IOptionsMonitor<MeshOptions> mesh,
    IOptions<MeshServerOptions> options,
    RegistrationHealth health,
    RegistrationStates states,
    MeshRandom random,
    TimeProvider time,
    ILoggerFactory loggers) : IHostedLifecycleService, IDisposable
{
    public const string LogCategory = "Mesh.Registration.Consul";

    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_backoffCap = TimeSpan.FromSeconds(30);
    private const string Registry = "consul";

    private readonly ILogger _logger = loggers.CreateLogger(LogCategory);
    private readonly CancellationTokenSource _stop = new();
    private HttpClient? _http;
    private Uri _agent = null!;
    private string? _token;
    private Task _loop = Task.CompletedTask;
    private volatile bool _everRegistered;
    private volatile RegistrationState _state = RegistrationState.Waiting;
    private bool _joined;
    private int _stopping;
    private long _lastFailureLog = long.MinValue;
    private int _disposed;

    /// <summary>Gets the service name registered, once registration is on.</summary>
    public string? Service { get; private set; }

    /// <summary>Gets the instance id registered, once registration is on.</summary>
    public string? InstanceId { get; private set; }

    /// <summary>Gets where the instance stands with the agent: <see cref="RegistrationState.Draining"/> while its check is marked critical for failing health checks.</summary>
    public RegistrationState State
    {
        get => _state;
        private set
        {
            _state = value;
            states.Set(Registry, value);
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var meshOptions = mesh.CurrentValue;
        if (!settings.Consul.Register || string.IsNullOrEmpty(meshOptions.ServiceName))
        {
            return Task.CompletedTask;
        }

        var consul = meshOptions.Discovery.Consul;
        Service = meshOptions.ServiceName;
        InstanceId = instance.InstanceId(Service);
        if (instance.Address() is not { } address)
        {
            LogNoAddress(_logger, Service);
            return Task.CompletedTask;
        }

        _agent = new Uri(consul.Address, UriKind.Absolute);
        _token = consul.Token;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2), PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) })
        {
            Timeout = s_requestTimeout,
        };
        var body = Body(settings, address);
        State = RegistrationState.Waiting;
        health.Join(Service, InstanceId);
        _joined = true;
        _loop = Task.Run(() => RunAsync(body, settings.Consul.CheckTtl, _stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // Once: a host stopped twice does not deregister and drain twice.
        if (_http is null || Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            return;
        }

        // Stopped before meshd's registration (hosted services stop in reverse order), so both registries drop this
        // instance before the drain begins.
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_joined)
        {
            _joined = false;
            await health.LeaveAsync().ConfigureAwait(false);
        }

        if (!_everRegistered)
        {
            return;
        }

        var deregistered = false;
        try
        {
            using var answer = await SendAsync("/v1/agent/service/deregister/" + Uri.EscapeDataString(InstanceId!), null, cancellationToken).ConfigureAwait(false);
            deregistered = answer.IsSuccessStatusCode || answer.StatusCode == HttpStatusCode.NotFound;
            if (deregistered)
            {
                LogDeregistered(_logger, Service!, InstanceId!);
            }
            else
            {
                LogRefused(_logger, _agent, (int)answer.StatusCode);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            LogUnreachable(_logger, _agent, ex.Message);
        }

        if (meshd.Drains)
        {
            return;
        }

        // Not registered with meshd: the drain is this registration's to keep.
        var drain = options.Value.DrainTime;
        LogDraining(_logger, Service!, InstanceId!, drain.TotalSeconds, deregistered);
        try
        {
            await Task.Delay(drain, time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            LogDrainCut(_logger, Service!, InstanceId!);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        // Disposed twice: as itself and as the hosted service it also is.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        _stop.Dispose();
        _http?.Dispose();
    }

    private async Task RunAsync(Dictionary<string, object> body, TimeSpan ttl, CancellationToken stop)
    {
        var check = Uri.EscapeDataString("service:" + InstanceId);
        var registered = false;
        var critical = false;
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            // Taken before the verdict is read, so a change in between wakes the next wait.
            var changed = health.Changed;
            var verdict = health.Verdict;
            try
            {
                if (verdict is null || (!verdict.Passes && !registered))
                {
                    // The checks have not answered yet, or fail while the agent does not know the instance: wait for them to pass.
                    await RegistrationWaits.SleepAsync(Timeout.InfiniteTimeSpan, changed, time, stop).ConfigureAwait(false);
                    continue;
                }

                using var answer = !registered
                    ? await SendAsync("/v1/agent/service/register", body, stop).ConfigureAwait(false)
                    : verdict.Passes
                        ? await SendAsync("/v1/agent/check/pass/" + check, null, stop).ConfigureAwait(false)
                        : await SendAsync("/v1/agent/check/fail/" + check + "?note=" + Uri.EscapeDataString(verdict.Failing ?? "unhealthy"), null, stop).ConfigureAwait(false);
                if (registered && answer.StatusCode == HttpStatusCode.NotFound)
                {
                    // The agent forgot the service (restarted, or deregistered it after a long critical): register again
                    // at once, or once the checks pass.
                    LogForgotten(_logger, Service!, InstanceId!);
                    registered = false;
                    critical = false;
                    State = verdict.Passes ? RegistrationState.Waiting : RegistrationState.Deregistered;
                    continue;
                }

                if (answer.IsSuccessStatusCode)
                {
                    if (!registered)
                    {
                        // Its check starts critical: passed right away.
                        registered = true;
                        _everRegistered = true;
                        LogRegistered(_logger, Service!, InstanceId!, _agent, ttl.TotalSeconds);
                        continue;
                    }

                    if (failures > 0)
                    {
                        LogRecovered(_logger, _agent, failures);
                        failures = 0;
                        _lastFailureLog = long.MinValue;
                    }

                    if (critical != !verdict.Passes)
                    {
                        critical = !verdict.Passes;
                        if (critical)
                        {
                            LogMarkedCritical(_logger, Service!, InstanceId!);
                        }
                        else
                        {
                            LogPassingAgain(_logger, Service!, InstanceId!);
                        }
                    }

                    State = critical ? RegistrationState.Draining : RegistrationState.Registered;
                    await RegistrationWaits.SleepAsync(ttl / 3, changed, time, stop).ConfigureAwait(false);
                    continue;
                }

                if (ShouldLog(ttl))
                {
                    LogRefused(_logger, _agent, (int)answer.StatusCode);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                // OperationCanceledException here is the request's own timeout.
                if (ShouldLog(ttl))
                {
                    LogUnreachable(_logger, _agent, ex.Message);
                }
            }

            failures++;
            try
            {
                // Retries start well inside the TTL, then spread out with full jitter up to 30 s, or a third of the TTL
                // once the instance was registered, so a short absence of the agent does not turn its check critical.
                var first = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 100, (ttl / 10).Ticks));
                await Task.Delay(RegistrationWaits.Backoff(failures, first, s_backoffCap, _everRegistered ? ttl : null, random), time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Whether a failure is logged: the first of a run, then at most one per TTL.</summary>
    private bool ShouldLog(TimeSpan ttl)
    {
        var now = time.GetTimestamp();
        if (_lastFailureLog != long.MinValue && time.GetElapsedTime(_lastFailureLog, now) < ttl)
        {
            return false;
        }

        _lastFailureLog = now;
        return true;
    }

    private async Task<HttpResponseMessage> SendAsync(string path, Dictionary<string, object>? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(_agent, path));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        if (_token is { Length: > 0 } token)
        {
            request.Headers.TryAddWithoutValidation("X-Consul-Token", token);
        }

        return await _http!.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private Dictionary<string, object> Body(MeshServerOptions settings, Uri address)
    {
        var meta = new SortedDictionary<string, string>(settings.Labels, StringComparer.Ordinal);
        if (settings.Zone is { } zone)
        {
            meta["zone"] = zone;
        }

        return new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["ID"] = InstanceId!,
            ["Name"] = Service!,
            ["Address"] = address.IdnHost,
            ["Port"] = address.Port,
            ["Tags"] = Array.Empty<string>(),
            ["Meta"] = meta,
            ["Weights"] = new Dictionary<string, int>(StringComparer.Ordinal) { ["Passing"] = settings.Weight, ["Warning"] = 1 },
            ["Check"] = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["CheckID"] = "service:" + InstanceId,
                ["TTL"] = settings.Consul.CheckTtl.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s",
                ["DeregisterCriticalServiceAfter"] = "1m",
            },
        };
    }
}
