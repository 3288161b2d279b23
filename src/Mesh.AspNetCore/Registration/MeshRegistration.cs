using System.Net;
using Mesh.AspNetCore.Identity;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Contract;
using Mesh.Utilities;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Registration;

/// <summary>
/// Registers this service with the control plane once the server listens, renews the lease every third of its TTL
/// (registering again when the lease lapsed), and on a graceful shutdown deregisters first, keeps serving for the drain
/// time, and only then lets the server stop. When the server serves the mesh's TLS (an identity, a mode other than off,
/// the advertised endpoint one the mesh serves), the instance registers at <c>https</c> with the identity it presents;
/// a change of mode that changes this registers again at the next renewal. Every renewal carries the instance's report
/// (<see cref="InstanceReporter"/>). With health checks of the application's own (<see cref="RegistrationHealth"/>), it
/// registers only once they pass, drains when they fail (weight 0 for the drain time, the lease renewed, then
/// deregistered), and registers at its weight again when they recover. Once it holds a lease, no wait between tries
/// is longer than a third of the lease (<see cref="RegistrationWaits.LeaseBound"/>), a <c>Retry-After</c> from meshd
/// included, so an instance backing off through an outage renews within one lease of meshd's return.
/// </summary>
internal sealed partial class MeshRegistration(
    ServerInstance instance,
    IOptionsMonitor<MeshOptions> mesh,
    IOptions<MeshServerOptions> options,
    MeshdClient meshd,
    TimeProvider time,
    ILoggerFactory loggers,
    ServerIdentity identity,
    MtlsModes modes,
    MeshTlsEndpoints endpoints,
    InstanceReporter reporter,
    RegistrationHealth health,
    RegistrationStates states,
    MeshRandom random) : IHostedLifecycleService, IDisposable
{
    public const string LogCategory = "Mesh.Registration";

    private static readonly TimeSpan s_defaultTtl = TimeSpan.FromSeconds(10);
    private const string Registry = "meshd";

    private readonly ILogger _logger = loggers.CreateLogger(LogCategory);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Uri? _address;
    private bool _running;
    private Task _loop = Task.CompletedTask;
    private volatile bool _everRegistered;
    private volatile bool _outOfRegistry;
    private volatile RegistrationState _state = RegistrationState.Waiting;
    private int _stopping;
    private int _disposed;

    /// <summary>Gets the service name registered, once registration is on.</summary>
    public string? Service { get; private set; }

    /// <summary>Gets the instance id registered, once registration is on.</summary>
    public string? InstanceId { get; private set; }

    /// <summary>Gets the address registered, once registration is on: the advertised or bound one, made <c>https</c> when the mesh's TLS is served there.</summary>
    public Uri? Address { get; private set; }

    /// <summary>Gets the identity last sent with the registration; <see langword="null"/> when none was.</summary>
    public string? Identity { get; private set; }

    /// <summary>
    /// Gets whether the instance is in the control plane's registry (or may be), so its shutdown drains after deregistering:
    /// not before its first registration, nor once it drained and deregistered for failing health checks.
    /// </summary>
    public bool Drains => _running && _everRegistered && !_outOfRegistry;

    /// <summary>Gets where the instance stands with the control plane's registry.</summary>
    public RegistrationState State
    {
        get => _state;
        private set
        {
            _state = value;
            states.Set(Registry, value);
        }
    }

    /// <summary>Completes when the first registration succeeded.</summary>
    public Task Registered => _registered.Task;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        var meshOptions = mesh.CurrentValue;
        var settings = options.Value;
        if (!settings.Register || !meshd.IsEnabled)
        {
            return Task.CompletedTask;
        }

        if (string.IsNullOrEmpty(meshOptions.ServiceName))
        {
            LogNoServiceName(_logger);
            return Task.CompletedTask;
        }

        Service = meshOptions.ServiceName;
        InstanceId = instance.InstanceId(Service);
        _address = instance.Address();
        if (_address is null)
        {
            LogNoAddress(_logger, Service);
            return Task.CompletedTask;
        }

        var first = Registration(settings, settings.Weight);
        Address = new Uri(first.Address);
        Identity = first.Identity;
        _running = true;
        State = RegistrationState.Waiting;
        health.Join(Service, InstanceId);
        _loop = Task.Run(() => RunAsync(settings, _stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // Once: a host stopped twice does not drain twice.
        if (!_running || Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            return;
        }

        // Deregister first, so callers drop this instance while it still serves them; then drain; then let the server stop.
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await health.LeaveAsync().ConfigureAwait(false);
        if (!_everRegistered || _outOfRegistry)
        {
            // Never registered, or already drained and deregistered for failing health checks: nothing to drain.
            return;
        }

        var deregistered = await DeregisterAsync(cancellationToken).ConfigureAwait(false);
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
    }

    // Health: with checks to wait for, registers once they pass, drains (weight 0 for the drain time, the lease renewed,
    // then deregisters) when they fail, and registers at the configured weight again when they recover.
    private async Task RunAsync(MeshServerOptions settings, CancellationToken stop)
    {
        var failures = 0;
        var registered = false;
        var registeredWeight = -1;
        DateTimeOffset? drainUntil = null;
        var ttl = s_defaultTtl;
        TimeSpan? retryAfter = null;
        while (!stop.IsCancellationRequested)
        {
            // Taken before the verdict is read, so a change in between wakes the next wait.
            var changed = health.Changed;
            var address = meshd.Current;
            try
            {
                int weight;
                var verdict = health.Verdict;
                if (verdict is null)
                {
                    // The first run of the checks has not answered yet.
                    await RegistrationWaits.SleepAsync(Timeout.InfiniteTimeSpan, changed, time, stop).ConfigureAwait(false);
                    continue;
                }

                if (verdict.Passes)
                {
                    drainUntil = null;
                    weight = settings.Weight;
                }
                else if (registered || drainUntil is not null)
                {
                    if (drainUntil is null)
                    {
                        drainUntil = time.GetUtcNow() + settings.DrainTime;
                        State = RegistrationState.Draining;
                        LogHealthDrain(_logger, Service!, InstanceId!, settings.DrainTime.TotalSeconds);
                    }

                    if (time.GetUtcNow() >= drainUntil)
                    {
                        var deregistered = !registered || await DeregisterAsync(stop).ConfigureAwait(false);
                        registered = false;
                        drainUntil = null;
                        // Out of the registry unless meshd could not be told; then a shutdown deregisters and drains as usual.
                        _outOfRegistry = deregistered;
                        State = RegistrationState.Deregistered;
                        LogHealthDrained(_logger, Service!, InstanceId!, deregistered);
                        continue;
                    }

                    weight = 0;
                }
                else
                {
                    // Not in the registry and not to be: wait for the checks to pass.
                    await RegistrationWaits.SleepAsync(Timeout.InfiniteTimeSpan, changed, time, stop).ConfigureAwait(false);
                    continue;
                }

                var registration = Registration(settings, weight);
                if (registered && (registration.Address != Address!.GetLeftPart(UriPartial.Authority) || registration.Identity != Identity || registeredWeight != weight))
                {
                    // The mode changed whether callers must use the mesh's TLS, or the health checks changed the weight:
                    // tell the control plane now, not at the next start.
                    registered = false;
                }

                MeshdAnswer<LeaseDocument> answer;
                if (registered)
                {
                    answer = await meshd.RenewAsync(Service!, InstanceId!, reporter.Build(), stop).ConfigureAwait(false);
                    if (answer.Status is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.UnsupportedMediaType)
                    {
                        // meshd refused the report (past a bound it holds, or a meshd that takes none): keep the lease without it.
                        LogReportRefused(_logger, Service!, InstanceId!);
                        answer = await meshd.RenewAsync(Service!, InstanceId!, stop).ConfigureAwait(false);
                    }

                    if (answer.Status == HttpStatusCode.NotFound)
                    {
                        // The lease lapsed (the control plane was away longer than the TTL, or forgot it): register again at once.
                        LogLeaseLost(_logger, Service!, InstanceId!);
                        registered = false;
                        continue;
                    }
                }
                else
                {
                    answer = await meshd.RegisterAsync(Service!, InstanceId!, registration, stop).ConfigureAwait(false);
                    if (answer.IsSuccess)
                    {
                        registered = true;
                        registeredWeight = weight;
                        _everRegistered = true;
                        _outOfRegistry = false;
                        State = drainUntil is null ? RegistrationState.Registered : RegistrationState.Draining;
                        ttl = Ttl(answer, ttl);
                        Address = new Uri(registration.Address);
                        Identity = registration.Identity;
                        LogRegistered(_logger, Service!, InstanceId!, Address, registration.Identity ?? "none", weight, ttl.TotalSeconds);
                        _registered.TrySetResult();
                    }
                }

                if (answer.IsSuccess)
                {
                    ttl = Ttl(answer, ttl);
                    failures = 0;
                    var next = ttl / 3;
                    if (drainUntil is { } until && until - time.GetUtcNow() < next)
                    {
                        next = until - time.GetUtcNow() is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;
                    }

                    await RegistrationWaits.SleepAsync(next, changed, time, stop).ConfigureAwait(false);
                    continue;
                }

                LogRefused(_logger, address, (int)answer.Status);
                retryAfter = answer.RetryAfter;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException ex)
            {
                LogUnreachable(_logger, address, ex.Message);
            }

            failures++;
            meshd.Rotate(address);
            try
            {
                await Task.Delay(RetryWait(failures, retryAfter, _everRegistered ? ttl : null), time, stop).ConfigureAwait(false);
                retryAfter = null;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // Retries spread out with full jitter up to meshd's cap; at a quota (429) or while meshd cannot persist (503), at
    // least as long as it asks (a minute at most). Once a lease was granted, never longer than a third of it: a
    // Retry-After that asks for more is shortened, so the lease survives meshd's outage.
    private TimeSpan RetryWait(int failures, TimeSpan? retryAfter, TimeSpan? lease)
    {
        var wait = RegistrationWaits.Backoff(failures, MeshdClient.BackoffBase, MeshdClient.BackoffCap, lease, random);
        if (retryAfter is not { } asked || asked <= wait)
        {
            return wait;
        }

        asked = asked < MeshdClient.MaxRetryAfter ? asked : MeshdClient.MaxRetryAfter;
        if (lease is { } ttl && RegistrationWaits.LeaseBound(ttl) < asked)
        {
            var bound = RegistrationWaits.LeaseBound(ttl);
            LogRetryAfterShortened(_logger, Service!, InstanceId!, Math.Round(asked.TotalSeconds, 3), Math.Round(bound.TotalSeconds, 3), ttl.TotalSeconds);
            return bound;
        }

        return asked;
    }

    private async Task<bool> DeregisterAsync(CancellationToken cancellationToken)
    {
        try
        {
            var answer = await meshd.DeregisterAsync(Service!, InstanceId!, cancellationToken).ConfigureAwait(false);
            if (answer.IsSuccess || answer.Status == HttpStatusCode.NotFound)
            {
                LogDeregistered(_logger, Service!, InstanceId!);
                return true;
            }

            LogRefused(_logger, answer.Address, (int)answer.Status);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            LogUnreachable(_logger, meshd.Current, ex.Message);
        }

        return false;
    }

    private RegistrationRequest Registration(MeshServerOptions settings, int weight)
    {
        var address = _address!;
        string? presented = null;

        // An advertised address may be translated on its way here; a bound one is the mesh's when its port is.
        var meshed = settings.AdvertisedAddress is null ? endpoints.IsMeshed(address.ToString()) : endpoints.AnyMeshed;
        if (identity.ExpectedId is { } id && meshed && modes.Current != MtlsMode.Off)
        {
            address = new UriBuilder(address) { Scheme = Uri.UriSchemeHttps, Port = address.Port }.Uri;
            presented = id.ToString();
        }

        return new RegistrationRequest(
            address.GetLeftPart(UriPartial.Authority),
            settings.Zone,
            new SortedDictionary<string, string>(settings.Labels, StringComparer.Ordinal),
            weight,
            presented);
    }

    private static TimeSpan Ttl(MeshdAnswer<LeaseDocument> answer, TimeSpan fallback) =>
        answer.Document is { Ttl: var ttl } && ttl > TimeSpan.Zero ? ttl : fallback;
}

/// <summary>Where an instance stands with the control plane's registry.</summary>
internal enum RegistrationState
{
    /// <summary>Not registered yet: waiting for its health checks to pass, or for the registry to answer.</summary>
    Waiting,

    /// <summary>Registered at its configured weight (with Consul: its check passing).</summary>
    Registered,

    /// <summary>
    /// In the registry but taking no traffic because its health checks fail: with meshd, at weight 0 for the drain time;
    /// with Consul, its check marked critical.
    /// </summary>
    Draining,

    /// <summary>Out of the registry after failing health checks (drained and deregistered, or removed by the Consul agent); registers again when they pass.</summary>
    Deregistered,
}
