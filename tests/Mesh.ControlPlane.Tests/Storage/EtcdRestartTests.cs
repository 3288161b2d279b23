using Meshd.Tests.Infrastructure;

namespace Meshd.Tests.Storage;

/// <summary>Leases kept in etcd outlive meshd: a meshd started after they ran out does not empty the mesh at once.</summary>
[Collection(EtcdGroup.Name)]
public sealed class EtcdRestartTests(EtcdServer etcd)
{
    [Fact]
    public async Task After_an_outage_longer_than_a_lease_a_restarted_meshd_gives_instances_one_TTL_to_renew()
    {
        using var directory = new TempDirectory();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var settings = TestMeshd.Settings(directory.Path, ("Meshd:LeaseTtl", "00:00:10"), ("Meshd:SweepInterval", "00:00:01"), ("Meshd:Store", "etcd"), ("Meshd:Etcd:Endpoint", etcd.Endpoint.ToString()), ("Meshd:Etcd:Prefix", $"/mesh-test-{Guid.NewGuid():N}/"));
        await using (var meshd = await TestMeshd.StartAsync(settings, TestMeshd.Clock(time)))
        {
            await meshd.RegisterAsync("inventory", "alive", "http://127.0.0.1:5001");
            await meshd.RegisterAsync("inventory", "dead", "http://127.0.0.1:5002");
        }

        // meshd was down for a minute: both stored leases ran out long ago. Sweeps are called here, not left to the timer.
        time.Advance(TimeSpan.FromMinutes(1));
        await using var restarted = await TestMeshd.StartAsync(settings, TestMeshd.Clock(time));
        var registry = restarted.Registry;
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(0, await registry.SweepAsync(CancellationToken.None));
        Assert.Equal(2, (await restarted.SnapshotAsync())["services"]!["inventory"]!["instances"]!.AsArray().Count);

        // The running instance renews within its TTL; the dead one never does and goes.
        Assert.Equal(System.Net.HttpStatusCode.OK, (await restarted.Workload.PostAsync("/v1/services/inventory/instances/alive/renew", null)).StatusCode);
        time.Advance(TimeSpan.FromSeconds(2));
        await Eventually.WaitAsync(
            async () =>
            {
                await registry.SweepAsync(CancellationToken.None);
                var instances = (await restarted.SnapshotAsync())["services"]!["inventory"]!["instances"]!.AsArray();
                return instances.Count == 1 && (string?)instances[0]!["instanceId"] == "alive";
            },
            "the instance that did not renew is removed",
            TimeSpan.FromSeconds(10));
    }
}
