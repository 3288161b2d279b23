using System.Security.Cryptography;
using System.Text.Json;
using Mesh.ControlPlane.Contract;
using Meshd.Storage;
using Meshd.Watch;

namespace Meshd.Identity;

/// <summary>
/// meshd's side of workload identity: the certificate authority when <c>Meshd:Identity:Enabled</c>, and its trust bundle
/// written to the store (<see cref="StoreKeys.TrustBundle"/>), where the state puts it in every snapshot. A change of
/// the CA's authorities is written at once, so the snapshot's version moves and watchers learn of a rotation; a write
/// the store could not take is tried again every few seconds until it succeeds.
/// </summary>
internal sealed partial class IdentityService(MeshdSettings settings, IKeyValueStore store, MeshState state, TimeProvider time, ILoggerFactory loggers) : BackgroundService
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);

    private readonly ILogger _logger = loggers.CreateLogger<IdentityService>();
    private readonly SemaphoreSlim _publishing = new(1, 1);
    private CertificateAuthority? _authority;
    private int _pending;

    /// <summary>Gets whether the CA runs.</summary>
    public bool Enabled => settings.Identity.Enabled;

    /// <summary>Gets the trust domain of every identity.</summary>
    public string TrustDomain => settings.Identity.Authority.TrustDomain;

    /// <summary>Gets the CA; null while it is off.</summary>
    public CertificateAuthority? Authority => _authority;

    /// <summary>Opens the CA (making it at the first start); a problem stops the start, naming the setting or the file.</summary>
    /// <exception cref="MeshdStartupException">The CA cannot be opened.</exception>
    public void Open()
    {
        if (!Enabled)
        {
            return;
        }

        var options = settings.Identity.Authority;
        try
        {
            _authority = CertificateAuthority.Open(options, time, loggers.CreateLogger<CertificateAuthority>());
        }
        catch (Exception ex) when (ex is InvalidOperationException or InvalidDataException or IOException or UnauthorizedAccessException or CryptographicException)
        {
            var directory = Path.Combine(Path.GetFullPath(options.DataDirectory), CertificateAuthority.DirectoryName);
            throw new MeshdStartupException(
                ex.Message.StartsWith("Meshd:", StringComparison.Ordinal)
                    ? ex.Message
                    : $"Meshd:Identity: cannot open the certificate authority in '{directory}': {ex.Message}",
                ex);
        }

        if (settings.Store == "etcd" && options.CertificatePath is null)
        {
            LogGeneratedRootOnReplicas(_logger);
        }
    }

    /// <summary>
    /// Writes the CA's current bundle to the store, or removes a bundle left there while the CA is off, and waits until the
    /// state serves it. Nothing is written when the store already holds it.
    /// </summary>
    /// <exception cref="StoreUnavailableException">The store cannot take it now; it is tried again in the background.</exception>
    public async Task PublishBundleAsync(CancellationToken cancellationToken)
    {
        await _publishing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Interlocked.Exchange(ref _pending, 1);

            // Read inside the turn, so the last writer always writes the newest bundle.
            var value = _authority is { } ca
                ? JsonSerializer.SerializeToUtf8Bytes(new TrustBundleDocument(ca.TrustDomain, ca.BundlePem), ControlPlaneJson.Default.TrustBundleDocument)
                : null;
            for (var attempt = 0; attempt < 8; attempt++)
            {
                var existing = await store.GetAsync(StoreKeys.TrustBundle, cancellationToken).ConfigureAwait(false);
                if (value is null ? existing is null : existing is not null && existing.Value.AsSpan().SequenceEqual(value))
                {
                    Interlocked.Exchange(ref _pending, 0);
                    return;
                }

                var operation = value is null ? StoreOperation.Delete(StoreKeys.TrustBundle) : StoreOperation.Put(StoreKeys.TrustBundle, value);
                var commit = await store.CommitAsync([new StoreCompare(StoreKeys.TrustBundle, existing?.ModRevision ?? 0)], [operation], cancellationToken).ConfigureAwait(false);
                if (commit.Succeeded)
                {
                    await state.WaitForRevisionAsync(commit.Revision, cancellationToken).ConfigureAwait(false);
                    Interlocked.Exchange(ref _pending, 0);
                    LogBundlePublished(_logger, value is null ? 0 : _authority!.Bundle.GetRoots(TrustDomain).Length, commit.Revision);
                    return;
                }
            }

            throw new Registry.ConflictException("The trust bundle in the store kept changing while meshd wrote it (another replica with other CA files?); try again.");
        }
        finally
        {
            _publishing.Release();
        }
    }

    public override void Dispose()
    {
        _publishing.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RetryInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                if (Volatile.Read(ref _pending) == 0)
                {
                    continue;
                }

                try
                {
                    await PublishBundleAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogPublishFailed(_logger, ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
