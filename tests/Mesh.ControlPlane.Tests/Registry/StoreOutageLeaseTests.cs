using System.Net.Http.Json;
using Mesh.ControlPlane.Contract;
using Meshd.Registry;
using Meshd.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Meshd.Tests.Registry;

/// <summary>
/// While the store cannot be written, renewals are refused and leases lapse; when it returns, the instances get one
/// lease to renew before the sweep counts those lapses, instead of all dropping out of the snapshot at once.
/// </summary>
public sealed class StoreOutageLeaseTests
{
    [Fact]
    public async Task Instances_whose_renewals_the_store_refused_stay_registered_after_it_returns_until_they_renew_or_a_lease_passes()
    {
        using var directory = new TempDirectory("meshd-outage-");
        var store = new OutageStore(FileKeyValueStore.Open(directory.Path, NullLogger.Instance));
        await using var meshd = await TestMeshd.StartAsync(
            TestMeshd.Settings(directory.Path, ("Meshd:LeaseTtl", "00:00:01"), ("Meshd:SweepInterval", "00:00:00.050")),
            services => services.AddSingleton<IKeyValueStore>(store));
        await meshd.RegisterAsync("orders", "o-1", "http://127.0.0.1:5101");
        await meshd.RegisterAsync("orders", "o-2", "http://127.0.0.1:5102");
        var sweeper = meshd.Host.Services.GetRequiredService<LeaseSweeper>();

        // The store goes away for longer than a lease: renewals get 503, the sweep cannot remove anything.
        store.Down = true;
        Assert.False((await meshd.Workload.PostAsync(new Uri("/v1/services/orders/instances/o-1/renew", UriKind.Relative), null)).IsSuccessStatusCode);
        await Eventually.WaitAsync(() => sweeper.Failure is not null, "the sweep fails while the store is away");

        // Back: the first sweeps succeed, and neither instance is gone.
        store.Down = false;
        await Eventually.WaitAsync(() => sweeper.Failure is null, "a sweep succeeds again");
        Assert.Equal(["o-1", "o-2"], (await ServiceAsync(meshd)).Instances.Select(i => i.InstanceId));

        // o-1 renews within the lease it was given and stays; o-2 never does and lapses after it.
        Assert.True(await meshd.RenewAsync("orders", "o-1"));
        await Eventually.WaitAsync(
            async () => (await ServiceAsync(meshd)).Instances.Select(i => i.InstanceId).SequenceEqual(["o-1"]) || !await meshd.RenewAsync("orders", "o-1"),
            "o-2 lapses a lease after the store's return while o-1, renewing, stays");
        Assert.Equal(["o-1"], (await ServiceAsync(meshd)).Instances.Select(i => i.InstanceId));
    }

    private static async Task<ServiceStatusDocument> ServiceAsync(TestMeshd meshd) =>
        (await meshd.Admin.GetFromJsonAsync(new Uri("/v1/services/orders", UriKind.Relative), ControlPlaneJson.Default.ServiceStatusDocument))!;

    /// <summary>The file store, refusing every write and probe while <see cref="Down"/>, as a store that is away does.</summary>
    private sealed class OutageStore(IKeyValueStore inner) : IKeyValueStore
    {
        private volatile bool _down;

        public bool Down
        {
            get => _down;
            set => _down = value;
        }

        public Task<KeyValueEntry?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

        public Task<StoreListing> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

        public Task<StoreCommit> CommitAsync(IReadOnlyList<StoreCompare> compares, IReadOnlyList<StoreOperation> operations, CancellationToken cancellationToken)
        {
            if (_down)
            {
                throw new StoreUnavailableException();
            }

            return inner.CommitAsync(compares, operations, cancellationToken);
        }

        public IAsyncEnumerable<StoreWatchBatch> WatchAsync(string prefix, long fromRevision, CancellationToken cancellationToken) => inner.WatchAsync(prefix, fromRevision, cancellationToken);

        public Task ProbeAsync(CancellationToken cancellationToken) => _down ? throw new StoreUnavailableException() : inner.ProbeAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
