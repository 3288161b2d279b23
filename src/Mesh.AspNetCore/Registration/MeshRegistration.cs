using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Mesh.Balancing;
using Mesh.ControlPlane;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Registration;

/// <summary>
/// Registers this service with the control plane once the server listens, renews the lease every third of its TTL
/// (registering again when the lease lapsed), and on a graceful shutdown deregisters first, keeps serving for the drain
/// time, and only then lets the server stop.
/// </summary>
internal sealed partial class MeshRegistration(
    IServer server,
    IOptionsMonitor<MeshOptions> mesh,
    IOptions<MeshServerOptions> options,
    TimeProvider time,
    ILoggerFactory loggers) : IHostedLifecycleService, IDisposable
{
    public const string LogCategory = "Mesh.Registration";

    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_defaultTtl = TimeSpan.FromSeconds(10);

    private readonly ILogger _logger = loggers.CreateLogger(LogCategory);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private HttpClient? _http;
    private Uri[] _addresses = [];
    private Task _loop = Task.CompletedTask;
    private volatile bool _everRegistered;
    private int _disposed;

    /// <summary>Gets the service name registered, once registration is on.</summary>
    public string? Service { get; private set; }

    /// <summary>Gets the instance id registered, once registration is on.</summary>
    public string? InstanceId { get; private set; }

    /// <summary>Gets the address registered, once registration is on.</summary>
    public Uri? Address { get; private set; }

    /// <summary>Completes when the first registration succeeded.</summary>
    public Task Registered => _registered.Task;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        var meshOptions = mesh.CurrentValue;
        var settings = options.Value;
        var controlPlane = meshOptions.ControlPlane;
        if (!settings.Register || !controlPlane.IsEnabled)
        {
            return Task.CompletedTask;
        }

        if (string.IsNullOrEmpty(meshOptions.ServiceName))
        {
            LogNoServiceName(_logger);
            return Task.CompletedTask;
        }

        Service = meshOptions.ServiceName;
        InstanceId = settings.InstanceId ?? $"{Service}-{Guid.NewGuid().ToString("N")[..8]}";
        Address = settings.AdvertisedAddress is { } advertised ? new Uri(advertised) : BoundAddress();
        if (Address is null)
        {
            LogNoAddress(_logger, Service);
            return Task.CompletedTask;
        }

        _addresses = [.. controlPlane.AllAddresses().Select(a => new Uri(a.EndsWith('/') ? a : a + "/", UriKind.Absolute))];
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2) }) { Timeout = s_requestTimeout };
        if (!string.IsNullOrEmpty(controlPlane.Token))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", controlPlane.Token);
        }

        _loop = Task.Run(() => RunAsync(settings, _stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (_http is null)
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
        _http?.Dispose();
        _stop.Dispose();
    }

    /// <summary>Kestrel's first bound address, a wildcard or <c>localhost</c> host made <c>127.0.0.1</c>.</summary>
    internal Uri? BoundAddress()
    {
        var bound = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        return bound is null ? null : Advertise(bound);
    }

    internal static Uri? Advertise(string bound)
    {
        // Kestrel reports wildcards as given ("http://+:80", "http://*:80"), which Uri cannot parse: swap the host first.
        var schemeEnd = bound.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            return null;
        }

        var rest = bound[(schemeEnd + 3)..];
        var portStart = rest.LastIndexOf(':');
        if (portStart < 0 || rest.EndsWith(']'))
        {
            return null;
        }

        var host = rest[..portStart];
        var port = rest[(portStart + 1)..].TrimEnd('/');
        if (host is "+" or "*" or "0.0.0.0" or "[::]" or "localhost" or "[::1]")
        {
            host = "127.0.0.1";
        }

        return Uri.TryCreate($"{bound[..schemeEnd]}://{host}:{port}", UriKind.Absolute, out var uri) ? uri : null;
    }

    private async Task RunAsync(MeshServerOptions settings, CancellationToken stop)
    {
        var failures = 0;
        var index = 0;
        var registered = false;
        var ttl = s_defaultTtl;
        while (!stop.IsCancellationRequested)
        {
            var controlPlane = _addresses[index];
            try
            {
                HttpStatusCode status;
                if (registered)
                {
                    using var renew = await _http!.PostAsync(new Uri(controlPlane, InstancePath() + "/renew"), content: null, stop).ConfigureAwait(false);
                    status = renew.StatusCode;
                    if (status == HttpStatusCode.NotFound)
                    {
                        // The lease lapsed (the control plane was away longer than the TTL, or forgot it): register again at once.
                        LogLeaseLost(_logger, Service!, InstanceId!);
                        registered = false;
                        continue;
                    }

                    ttl = await ReadTtlAsync(renew, ttl, stop).ConfigureAwait(false);
                }
                else
                {
                    using var put = await _http!.PutAsync(new Uri(controlPlane, InstancePath()), JsonContent.Create(Body(settings)), stop).ConfigureAwait(false);
                    status = put.StatusCode;
                    if (put.IsSuccessStatusCode)
                    {
                        registered = true;
                        _everRegistered = true;
                        ttl = await ReadTtlAsync(put, ttl, stop).ConfigureAwait(false);
                        LogRegistered(_logger, Service!, InstanceId!, Address!, ttl.TotalSeconds);
                        _registered.TrySetResult();
                    }
                }

                if ((int)status is >= 200 and < 300)
                {
                    failures = 0;
                    await Task.Delay(ttl / 3, time, stop).ConfigureAwait(false);
                    continue;
                }

                LogRefused(_logger, controlPlane, (int)status);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException)
            {
                LogUnreachable(_logger, controlPlane, ex.Message);
            }

            failures++;
            index = (index + 1) % _addresses.Length;
            try
            {
                // Retries stay well inside the TTL at first, then spread out with full jitter.
                await Task.Delay(ControlPlaneClient.Backoff(failures, MeshRandom.Shared), time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<bool> DeregisterAsync(CancellationToken cancellationToken)
    {
        foreach (var controlPlane in _addresses)
        {
            try
            {
                using var response = await _http!.DeleteAsync(new Uri(controlPlane, InstancePath()), cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.NotFound)
                {
                    LogDeregistered(_logger, Service!, InstanceId!);
                    return true;
                }

                LogRefused(_logger, controlPlane, (int)response.StatusCode);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                LogUnreachable(_logger, controlPlane, ex.Message);
            }
        }

        return false;
    }

    private string InstancePath() => $"v1/services/{Uri.EscapeDataString(Service!)}/instances/{Uri.EscapeDataString(InstanceId!)}";

    private Dictionary<string, object?> Body(MeshServerOptions settings) => new()
    {
        ["address"] = Address!.GetLeftPart(UriPartial.Authority),
        ["zone"] = settings.Zone,
        ["labels"] = settings.Labels,
        ["weight"] = settings.Weight,
    };

    private static async Task<TimeSpan> ReadTtlAsync(HttpResponseMessage response, TimeSpan fallback, CancellationToken cancellationToken)
    {
        using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
        return document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.TryGetProperty("ttl", out var ttl) && ttl.ValueKind == JsonValueKind.String
            && TimeSpan.TryParse(ttl.GetString(), CultureInfo.InvariantCulture, out var value) && value > TimeSpan.Zero
            ? value
            : fallback;
    }
}
