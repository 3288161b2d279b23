using Meshd.Registry;
using Meshd.Storage;
using Meshd.Watch;

namespace Meshd.Health;

/// <summary>
/// What <c>/healthz</c> and <c>/readyz</c> report, from a probe of the store every <c>Meshd:HealthInterval</c> (a small
/// write flushed to the data directory, or a read from etcd), the last write of the file store, the state's watch of
/// the store and the lease sweep. Requests read the last result and cause no I/O.
/// </summary>
internal sealed partial class StoreHealth(IKeyValueStore store, MeshState state, LeaseSweeper sweeper, MeshdSettings settings, TimeProvider time, ILogger<StoreHealth> logger) : BackgroundService
{
    private string? _probeFailure = "not probed yet";

    /// <summary>Each check with null when it holds, or why it does not.</summary>
    public IReadOnlyDictionary<string, string?> Checks() => new Dictionary<string, string?>(StringComparer.Ordinal)
    {
        ["store"] = Volatile.Read(ref _probeFailure) ?? (store as FileKeyValueStore)?.PersistFailure,
        ["watch"] = state.Loaded ? state.WatchFailure : "the state is not loaded yet",
        ["leaseSweep"] = sweeper.Failure,
    };

    /// <summary>Probes once now; the start does so before meshd serves.</summary>
    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        var timeout = settings.HealthInterval < TimeSpan.FromSeconds(2) ? TimeSpan.FromSeconds(2) : settings.HealthInterval;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        string? failure;
        try
        {
            await store.ProbeAsync(limit.Token).ConfigureAwait(false);
            failure = null;
        }
        catch (StoreUnavailableException ex)
        {
            failure = ex.Message;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            failure = $"the store did not answer within {timeout.TotalSeconds:0.#} s";
        }

        var previous = Interlocked.Exchange(ref _probeFailure, failure);
        if (failure is not null && previous is null)
        {
            LogFailing(logger, failure);
        }
        else if (failure is null && previous is not null && previous != "not probed yet")
        {
            LogRecovered(logger);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(settings.HealthInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await ProbeAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
