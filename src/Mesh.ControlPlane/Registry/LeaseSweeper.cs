using Meshd.Storage;

namespace Meshd.Registry;

/// <summary>Removes instances whose lease lapsed, once per sweep interval; a failing sweep is logged once, not each time.</summary>
internal sealed partial class LeaseSweeper(RegistryService registry, TimeProvider time, MeshdSettings settings, ILogger<LeaseSweeper> logger) : BackgroundService
{
    private string? _failure;

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
