using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;

namespace Mesh.Identity;

/// <summary>
/// The workload's current X.509-SVID and trust bundle, read on every TLS handshake (client and server) so a renewal or a
/// root rotation takes effect on the next connection without rebuilding a handler or closing a connection. The pair is one
/// immutable snapshot swapped atomically; reading it is one volatile read. It never hands out an expired certificate:
/// past expiry, <see cref="GetCurrent"/> throws, so connections fail closed until a new certificate arrives.
/// </summary>
/// <remarks>Replaced certificates are not disposed: a handshake in progress may still hold one.</remarks>
internal sealed partial class WorkloadCertificate : IDisposable
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IdentityMetrics? _metrics;
    private readonly Lock _lock = new();
    private Snapshot _snapshot = new(null, TrustBundle.Empty);
    private CancellationTokenSource _changed = new();

    public WorkloadCertificate(TimeProvider time, ILogger<WorkloadCertificate>? logger = null, IdentityMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _metrics = metrics;
        metrics?.Observe(this);
    }

    /// <summary>Gets the trust bundle peers' certificates are checked against.</summary>
    public TrustBundle Bundle => Volatile.Read(ref _snapshot).Bundle;

    /// <summary>Gets the latest certificate even when it has expired, or <see langword="null"/>; for scheduling renewals and metrics, never for a handshake.</summary>
    public WorkloadSvid? Latest => Volatile.Read(ref _snapshot).Svid;

    /// <summary>Gets the current time of the holder's clock.</summary>
    internal DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>Returns the certificate to present now.</summary>
    /// <exception cref="WorkloadCertificateUnavailableException">There is no certificate yet, or it has expired.</exception>
    public WorkloadSvid GetCurrent()
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (snapshot.Svid is { } svid && svid.IsUsableAt(_time.GetUtcNow()))
        {
            return svid;
        }

        _metrics?.Unavailable.Add(1);
        if (snapshot.Svid is { } expired)
        {
            if (Interlocked.Exchange(ref snapshot.ExpiryLogged, 1) == 0)
            {
                LogExpired(_logger, expired.Id.ToString(), expired.NotAfter, expired.SerialNumber);
            }

            throw new WorkloadCertificateUnavailableException(
                $"The workload certificate of '{expired.Id}' (serial {expired.SerialNumber}) expired at {X509SvidValidator.Format(expired.NotAfter)} and no new one has arrived; connections that need it fail until one does.");
        }

        throw new WorkloadCertificateUnavailableException("The workload has no certificate yet; connections that need one fail until it arrives.");
    }

    /// <summary>Gets the certificate to present now, or returns <see langword="false"/> when there is none or it has expired.</summary>
    public bool TryGetCurrent([NotNullWhen(true)] out WorkloadSvid? svid)
    {
        svid = Volatile.Read(ref _snapshot).Svid;
        if (svid is not null && svid.IsUsableAt(_time.GetUtcNow()))
        {
            return true;
        }

        svid = null;
        return false;
    }

    /// <summary>Replaces the certificate, and the bundle when one is given, in one swap; then signals the change.</summary>
    /// <exception cref="ArgumentException">The certificate has already expired.</exception>
    public void Update(WorkloadSvid svid, TrustBundle? bundle = null)
    {
        ArgumentNullException.ThrowIfNull(svid);
        if (!svid.IsUsableAt(_time.GetUtcNow()))
        {
            throw new ArgumentException($"The certificate of '{svid.Id}' (serial {svid.SerialNumber}) expired at {X509SvidValidator.Format(svid.NotAfter)}; an expired certificate is never installed.", nameof(svid));
        }

        Swap(previous => new Snapshot(svid, bundle ?? previous.Bundle));
        _metrics?.Rotations.Add(1);
        LogUpdated(_logger, svid.Id.ToString(), svid.SerialNumber, svid.NotAfter, svid.Fingerprint);
    }

    /// <summary>Replaces the trust bundle only, such as when the control plane adds a root for a rotation; then signals the change.</summary>
    public void UpdateBundle(TrustBundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        Swap(previous => new Snapshot(previous.Svid, bundle) { ExpiryLogged = previous.ExpiryLogged });
    }

    /// <summary>Gets a token that fires at the next change of the certificate or the bundle.</summary>
    public IChangeToken GetChangeToken() => new CancellationChangeToken(Volatile.Read(ref _changed).Token);

    /// <summary>Releases the change signal; the certificates are left to the collector.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _changed.Dispose();
        }
    }

    private void Swap(Func<Snapshot, Snapshot> change)
    {
        CancellationTokenSource fired;
        lock (_lock)
        {
            Volatile.Write(ref _snapshot, change(_snapshot));
            fired = _changed;
            Volatile.Write(ref _changed, new CancellationTokenSource());
        }

        // Outside the lock: a callback may read the new snapshot or register again. The old source is left to the
        // collector, since tokens handed out earlier may still be registered with.
        fired.Cancel();
    }

    private sealed class Snapshot(WorkloadSvid? svid, TrustBundle bundle)
    {
        public WorkloadSvid? Svid { get; } = svid;

        public TrustBundle Bundle { get; } = bundle;

        // Set once by Interlocked, so an expiry is logged once per certificate, not once per refused handshake.
        public int ExpiryLogged;
    }
}
