
namespace Meshd.Registry;

/// <summary>Removes instances whose lease lapsed, once per sweep interval.</summary>
internal sealed partial class LeaseSweeper(RegistryService registry, TimeProvider time, MeshdSettings settings, ILogger<LeaseSweeper> logger) : BackgroundService
{
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
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogSweepFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

}
