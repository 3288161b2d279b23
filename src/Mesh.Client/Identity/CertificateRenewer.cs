using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;

namespace Mesh.Identity;

/// <summary>
/// Keeps the workload's certificate renewed: gets one at once when there is none, then renews each at the time the
/// <see cref="RenewalScheduler"/> draws for it, and after a failure tries again with back-off while the current certificate
/// stays in use. It never installs an expired certificate and never waits past the current one's expiry to try again. How
/// a certificate is obtained (a CSR to meshd) is the <c>issue</c> delegate's business.
/// </summary>
internal sealed partial class CertificateRenewer
{
    private readonly Func<CancellationToken, Task<WorkloadSvid>> _issue;
    private readonly WorkloadCertificate _holder;
    private readonly RenewalScheduler _scheduler;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IdentityMetrics? _metrics;
    private readonly string _source;
    private long _waitingUntilTicks;

    public CertificateRenewer(
        Func<CancellationToken, Task<WorkloadSvid>> issue,
        WorkloadCertificate holder,
        RenewalScheduler scheduler,
        TimeProvider time,
        ILogger<CertificateRenewer>? logger = null,
        IdentityMetrics? metrics = null,
        string source = IdentitySourceNames.Meshd)
    {
        ArgumentNullException.ThrowIfNull(issue);
        ArgumentNullException.ThrowIfNull(holder);
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(time);
        _issue = issue;
        _holder = holder;
        _scheduler = scheduler;
        _time = time;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _metrics = metrics;
        _source = source;
    }

    /// <summary>Gets the renewals that failed in a row since the last success.</summary>
    public int Failures { get; private set; }

    /// <summary>Gets the instant the renewer is waiting for, once its timer is set; <see langword="null"/> while it is not waiting. For tests that drive a fake clock.</summary>
    public DateTimeOffset? WaitingUntil => Interlocked.Read(ref _waitingUntilTicks) is var ticks and not 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        WorkloadSvid? planned = null;
        WorkloadSvid? failing = null;
        var renewAt = DateTimeOffset.MinValue;
        var retryAt = DateTimeOffset.MinValue;
        while (!cancellationToken.IsCancellationRequested)
        {
            // The token first: a change after reading the holder then still ends the wait.
            var change = _holder.GetChangeToken();
            var current = _holder.Latest;
            if (Failures > 0 && !ReferenceEquals(current, failing))
            {
                // Someone else installed a certificate while renewals failed: that one is renewed in its own time.
                Failures = 0;
            }

            if (Failures == 0 && current is not null && !ReferenceEquals(current, planned))
            {
                planned = current;
                renewAt = _scheduler.RenewAt(current.NotBefore, current.NotAfter);
            }

            var due = Failures > 0 ? retryAt : current is null ? _time.GetUtcNow() : renewAt;
            if (!await WaitUntilAsync(due, change, cancellationToken).ConfigureAwait(false))
            {
                // The holder changed while waiting; plan again from what it holds now.
                continue;
            }

            try
            {
                var svid = await _issue(cancellationToken).ConfigureAwait(false);
                _holder.Update(svid);
                Failures = 0;
                planned = svid;
                renewAt = _scheduler.RenewAt(svid.NotBefore, svid.NotAfter);
                LogRenewed(_logger, svid.Id.ToString(), svid.SerialNumber, svid.NotAfter, renewAt);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                var now = _time.GetUtcNow();
                Failures++;
                failing = current;
                retryAt = _scheduler.RetryAt(now, Failures, current?.NotAfter);
                _metrics?.RenewalFailures.Add(1, new KeyValuePair<string, object?>(IdentityMetrics.SourceTag, _source));
                var state = current is null
                    ? "there is no certificate yet, so connections that need one fail"
                    : current.IsUsableAt(now)
                        ? $"the current certificate stays in use until {X509SvidValidator.Format(current.NotAfter)}"
                        : $"the current certificate expired at {X509SvidValidator.Format(current.NotAfter)}, so connections that need one fail";
                if (Failures == 1)
                {
                    LogFailed(_logger, ex.Message, retryAt, state);
                }
                else
                {
                    LogStillFailing(_logger, Failures, ex.Message, retryAt, state);
                }
            }
        }
    }

    // Returns false when the holder changed before the instant came.
    private async Task<bool> WaitUntilAsync(DateTimeOffset due, IChangeToken change, CancellationToken cancellationToken)
    {
        var wait = due - _time.GetUtcNow();
        if (wait <= TimeSpan.Zero)
        {
            return true;
        }

        using var changed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var registration = change.RegisterChangeCallback(static state => ((CancellationTokenSource)state!).Cancel(), changed);
        var delay = Task.Delay(wait, _time, changed.Token);
        Interlocked.Exchange(ref _waitingUntilTicks, due.UtcTicks);
        await delay.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ForceYielding);
        Interlocked.Exchange(ref _waitingUntilTicks, 0);
        return !changed.IsCancellationRequested;
    }
}
