using System.Net;
using Mesh.AspNetCore.Identity;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Contract;
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
/// (<see cref="InstanceReporter"/>).
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
    InstanceReporter reporter) : IHostedLifecycleService, IDisposable
{
    public const string LogCategory = "Mesh.Registration";

    private static readonly TimeSpan s_defaultTtl = TimeSpan.FromSeconds(10);

    private readonly ILogger _logger = loggers.CreateLogger(LogCategory);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Uri? _address;
    private bool _running;
    private Task _loop = Task.CompletedTask;
    private volatile bool _everRegistered;
    private int _disposed;

    /// <summary>Gets the service name registered, once registration is on.</summary>
    public string? Service { get; private set; }

    /// <summary>Gets the instance id registered, once registration is on.</summary>
    public string? InstanceId { get; private set; }

    /// <summary>Gets the address registered, once registration is on: the advertised or bound one, made <c>https</c> when the mesh's TLS is served there.</summary>
    public Uri? Address { get; private set; }

    /// <summary>Gets the identity last sent with the registration; <see langword="null"/> when none was.</summary>
    public string? Identity { get; private set; }

    /// <summary>Gets whether the instance registered with the control plane, so its shutdown drains after deregistering.</summary>
    public bool Drains => _running && _everRegistered;

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

        var first = Registration(settings);
        Address = new Uri(first.Address);
        Identity = first.Identity;
        _running = true;
        _loop = Task.Run(() => RunAsync(settings, _stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (!_running)
        {
            return;
        }

        // Deregister first, so callers drop this instance while it still serves them; then drain; then let the server stop.
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!_everRegistered)
        {
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

    private async Task RunAsync(MeshServerOptions settings, CancellationToken stop)
    {
        var failures = 0;
        var registered = false;
        var ttl = s_defaultTtl;
        TimeSpan? retryAfter = null;
        while (!stop.IsCancellationRequested)
        {
            var address = meshd.Current;
            var registration = Registration(settings);
            if (registered && (registration.Address != Address!.GetLeftPart(UriPartial.Authority) || registration.Identity != Identity))
            {
                // The mode changed whether callers must use the mesh's TLS: tell the control plane now, not at the next start.
                registered = false;
            }

            try
            {
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
                        _everRegistered = true;
                        ttl = Ttl(answer, ttl);
                        Address = new Uri(registration.Address);
                        Identity = registration.Identity;
                        LogRegistered(_logger, Service!, InstanceId!, Address, registration.Identity ?? "none", ttl.TotalSeconds);
                        _registered.TrySetResult();
                    }
                }

                if (answer.IsSuccess)
                {
                    ttl = Ttl(answer, ttl);
                    failures = 0;
                    await Task.Delay(ttl / 3, time, stop).ConfigureAwait(false);
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
                // Retries stay well inside the TTL at first, then spread out with full jitter; at a quota (429) or while
                // meshd cannot persist (503), at least as long as it asks.
                await Task.Delay(meshd.Backoff(failures, retryAfter), time, stop).ConfigureAwait(false);
                retryAfter = null;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
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

    private RegistrationRequest Registration(MeshServerOptions settings)
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
            settings.Weight,
            presented);
    }

    private static TimeSpan Ttl(MeshdAnswer<LeaseDocument> answer, TimeSpan fallback) =>
        answer.Document is { Ttl: var ttl } && ttl > TimeSpan.Zero ? ttl : fallback;
}
