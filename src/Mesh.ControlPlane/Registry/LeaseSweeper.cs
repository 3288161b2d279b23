using Meshd.Storage;
using Meshd.Watch;

namespace Meshd.Registry;

/// <summary>
/// Removes instances whose lease lapsed, once per sweep interval; a failing sweep is logged once, not each time. After a
/// failing sweep (the store could not be written, so renewals were refused too), every lease gets one TTL from the
/// store's return before a lapse counts.
/// </summary>
internal sealed partial class LeaseSweeper(RegistryService registry, MeshState state, IKeyValueStore store, TimeProvider time, MeshdSettings settings, ILogger<LeaseSweeper> logger) : BackgroundService
{
    private string? _failure;

    private bool _storeWasDown;

    /// <summary>Gets why the last sweep failed, or null when it succeeded.</summary>
    public string? Failure => Volatile.Read(ref _failure);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(settings.SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    if (_storeWasDown)
                    {
                        // While the store could not be written, renewals were refused too: every instance gets one lease
                        // from the store's return to renew before a lease that lapsed meanwhile counts. Until the probe
                        // passes, the grace moves on with every tick.
                        state.ExtendGrace(time.GetUtcNow() + settings.LeaseTtl);
                        await store.ProbeAsync(stoppingToken).ConfigureAwait(false);
                        state.ExtendGrace(time.GetUtcNow() + settings.LeaseTtl);
                        _storeWasDown = false;
                    }

                    var removed = await registry.SweepAsync(stoppingToken).ConfigureAwait(false);
                    if (removed > 0)
                    {
                        LogSwept(logger, removed);
                    }

                    if (Interlocked.Exchange(ref _failure, null) is not null)
                    {
                        LogSweepRecovered(logger);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _storeWasDown = true;
                    var failure = $"the lease sweep failed, so lapsed instances stay in the snapshot: {ex.Message}";
                    if (Interlocked.Exchange(ref _failure, failure) is null)
                    {
                        if (ex is StoreUnavailableException)
                        {
                            LogSweepFailing(logger, ex.Message);
                        }
                        else
                        {
                            LogSweepFailed(logger, ex);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
