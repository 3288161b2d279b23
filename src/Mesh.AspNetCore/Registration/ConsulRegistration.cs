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
/// per TTL; the token travels only in <c>X-Consul-Token</c>.
/// </summary>
internal sealed partial class ConsulRegistration(
    ServerInstance instance,
    MeshRegistration meshd,
    IOptionsMonitor<MeshOptions> mesh,
    IOptions<MeshServerOptions> options,
    MeshRandom random,
    TimeProvider time,
    ILoggerFactory loggers) : IHostedLifecycleService, IDisposable
{
    public const string LogCategory = "Mesh.Registration.Consul";

    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_backoffCap = TimeSpan.FromSeconds(30);

    private readonly ILogger _logger = loggers.CreateLogger(LogCategory);
    private readonly CancellationTokenSource _stop = new();
    private HttpClient? _http;
    private Uri _agent = null!;
    private string? _token;
    private Task _loop = Task.CompletedTask;
    private volatile bool _everRegistered;
    private long _lastFailureLog = long.MinValue;
    private int _disposed;

    /// <summary>Gets the service name registered, once registration is on.</summary>
    public string? Service { get; private set; }

    /// <summary>Gets the instance id registered, once registration is on.</summary>
    public string? InstanceId { get; private set; }

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
        _loop = Task.Run(() => RunAsync(body, settings.Consul.CheckTtl, _stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (_http is null)
        {
            return;
        }

        // Stopped before meshd's registration (hosted services stop in reverse order), so both registries drop this
        // instance before the drain begins.
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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
        var checkPath = "/v1/agent/check/pass/" + Uri.EscapeDataString("service:" + InstanceId);
        var registered = false;
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var answer = registered
                    ? await SendAsync(checkPath, null, stop).ConfigureAwait(false)
                    : await SendAsync("/v1/agent/service/register", body, stop).ConfigureAwait(false);
                if (registered && answer.StatusCode == HttpStatusCode.NotFound)
                {
                    // The agent forgot the service (restarted, or deregistered it after a long critical): register again at once.
                    LogForgotten(_logger, Service!, InstanceId!);
                    registered = false;
                    continue;
                }

                if (answer.IsSuccessStatusCode)
                {
                    if (!registered)
                    {
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

                    await Task.Delay(ttl / 3, time, stop).ConfigureAwait(false);
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
                // Retries start well inside the TTL, then spread out with full jitter up to 30 s.
                var first = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 100, (ttl / 10).Ticks));
                await Task.Delay(Backoff.FullJitter(Math.Min(failures - 1, 16), first, s_backoffCap, random), time, stop).ConfigureAwait(false);
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
