using Mesh.ControlPlane.Contract;
using Mesh.Identity;
using Mesh.Utilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.ControlPlane;

/// <summary>
/// The workload's certificate from meshd's certificate authority: a key made in this process (never sent), a signing
/// request for the identity of <c>Mesh:ServiceName</c>, the signed certificate installed and kept on disk beside the
/// snapshot cache (the key owner-only), renewed at about half its life with jitter. A service that starts while meshd is
/// down presents its cached certificate while that is valid; the trust bundle comes with meshd's snapshots.
/// </summary>
internal sealed partial class MeshdIdentitySource : IWorkloadIdentitySource, IDisposable, IAsyncDisposable
{
    /// <summary>The name of the cached certificate chain in the cache directory.</summary>
    public const string CertificateFileName = "svid.pem";

    /// <summary>The name of the cached private key in the cache directory.</summary>
    public const string KeyFileName = "svid-key.pem";

    private readonly IOptionsFactory<MeshOptions> _optionsFactory;
    private readonly MeshdClient _meshd;
    private readonly WorkloadCertificate _holder;
    private readonly MeshRandom _random;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly IdentityMetrics _metrics;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _startLock = new();
    private Task? _started;
    private Task _loop = Task.CompletedTask;
    private string _service = string.Empty;
    private SpiffeId? _id;
    private IdentityOptions _identity = new();
    private string? _cacheDirectory;
    private int _disposed;

    public MeshdIdentitySource(IOptionsFactory<MeshOptions> optionsFactory, MeshdClient meshd, WorkloadCertificate holder, MeshRandom random, TimeProvider time, ILoggerFactory loggers, IdentityMetrics metrics)
    {
        _optionsFactory = optionsFactory;
        _meshd = meshd;
        _holder = holder;
        _random = random;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger(ControlPlaneWatcher.LogCategory);
        _metrics = metrics;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_startLock)
        {
            return (_started ??= StartCoreAsync()).WaitAsync(cancellationToken);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();

        // The renewer ends on cancellation; nothing else to report while disposing.
        _loop.ContinueWith(static _ => { }, TaskScheduler.Default).Wait(TimeSpan.FromSeconds(5));
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

    private async Task StartCoreAsync()
    {
        var options = _optionsFactory.Create(Options.DefaultName);
        _identity = options.Identity;
        _service = options.ServiceName!;
        _id = SpiffeId.ForService(_identity.TrustDomain, _service);
        _cacheDirectory = options.ControlPlane.CacheDirectory ?? ControlPlaneWatcher.DefaultCacheDirectory(options.ServiceName);
        LoadCache();

        var renewer = new CertificateRenewer(IssueAsync, _holder, new RenewalScheduler(_identity, _random), _time, _loggers.CreateLogger<CertificateRenewer>(), _metrics);
        _loop = Task.Run(() => renewer.RunAsync(_stop.Token));

        // The first certificate, or the start-up wait: past it the host starts, and mutual TLS fails closed until one comes.
        var wait = options.ControlPlane.StartupWait;
        var deadline = _time.GetUtcNow() + wait;
        while (!_holder.TryGetCurrent(out _) && _time.GetUtcNow() < deadline && !_stop.IsCancellationRequested)
        {
            var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var registration = _holder.GetChangeToken().RegisterChangeCallback(static state => ((TaskCompletionSource)state!).TrySetResult(), changed);
            if (_holder.TryGetCurrent(out _))
            {
                break;
            }

            try
            {
                await changed.Task.WaitAsync(deadline - _time.GetUtcNow(), _time, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                break;
            }
        }

        if (!_holder.TryGetCurrent(out _))
        {
            LogStartedWithoutCertificate(_logger, _id, wait.TotalSeconds);
        }
    }

    private async Task<WorkloadSvid> IssueAsync(CancellationToken cancellationToken)
    {
        using var request = SvidSigningRequest.Create(_id!);
        var answer = await _meshd.RequestSvidAsync(_service, new SvidRequest(request.Pem, _identity.CertificateTtl), cancellationToken).ConfigureAwait(false);
        if (!answer.IsSuccess || answer.Document is not { } document)
        {
            _meshd.Rotate(answer.Address);
            throw new HttpRequestException($"meshd at {answer.Address} answered the certificate request for '{_id}' with status {(int)answer.Status}.", null, answer.Status);
        }

        var svid = request.Complete(document.CertificateChainPem);
        if (svid.Id != _id)
        {
            throw new InvalidDataException($"meshd signed '{svid.Id}' where '{_id}' was asked for.");
        }

        WriteCache(svid);
        return svid;
    }

    private void LoadCache()
    {
        var (certificatePath, keyPath) = CachePaths();
        try
        {
            if (!File.Exists(certificatePath) || !File.Exists(keyPath))
            {
                return;
            }

            var svid = WorkloadSvid.FromPem(File.ReadAllText(certificatePath), File.ReadAllText(keyPath), certificatePath);
            if (svid.Id == _id && svid.IsUsableAt(_time.GetUtcNow()))
            {
                _holder.Update(svid);
                LogCacheLoaded(_logger, svid.Id, svid.NotAfter);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            LogCacheUnreadable(_logger, certificatePath, ex.Message);
        }
    }

    private void WriteCache(WorkloadSvid svid)
    {
        var (certificatePath, keyPath) = CachePaths();
        try
        {
            Directory.CreateDirectory(_cacheDirectory!);
            var (certificatePem, keyPem) = svid.ExportPem();

            // The key first, owner-only from its creation, renamed over the old one: never readable by others, never half written.
            WriteOwnerOnly(keyPath, keyPem);
            WriteOwnerOnly(certificatePath, certificatePem);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogCacheUnwritable(_logger, certificatePath, ex.Message);
        }
    }

    private static void WriteOwnerOnly(string path, string text)
    {
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(temporary, options))
        using (var writer = new StreamWriter(file))
        {
            writer.Write(text);
        }

        File.Move(temporary, path, overwrite: true);
    }

    private (string Certificate, string Key) CachePaths() =>
        (Path.Combine(_cacheDirectory!, CertificateFileName), Path.Combine(_cacheDirectory!, KeyFileName));
}
