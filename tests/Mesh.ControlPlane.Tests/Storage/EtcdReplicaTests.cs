using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Meshd.Tests.Infrastructure;

namespace Meshd.Tests.Storage;

[Collection(EtcdGroup.Name)]
public sealed class EtcdReplicaTests(EtcdServer etcd, ITestOutputHelper output)
{
    [Fact]
    public async Task A_write_through_one_replica_reaches_the_watchers_of_the_other_and_one_survives_the_others_kill_9()
    {
        using var directoryA = new TempDirectory();
        using var directoryB = new TempDirectory();
        var prefix = $"/mesh-test-{Guid.NewGuid():N}/";
        (string, string)[] etcdSettings = [("Meshd:Store", "etcd"), ("Meshd:Etcd:Endpoint", etcd.Endpoint.ToString()), ("Meshd:Etcd:Prefix", prefix)];
        using var replicaA = await MeshdProcess.StartAsync(TestMeshd.Settings(directoryA.Path, etcdSettings));
        await using var replicaB = await TestMeshd.StartAsync(TestMeshd.Settings(directoryB.Path, etcdSettings));
        using var adminA = TestMeshd.Client(replicaA.Address, TestMeshd.AdminToken);
        using var workloadA = TestMeshd.Client(replicaA.Address, TestMeshd.WorkloadToken);

        // A registration through B is seen through A, at the same version.
        await replicaB.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        await Eventually.WaitAsync(async () => (await workloadA.GetFromJsonAsync<JsonObject>("/v1/snapshot"))!["services"]!["inventory"] is not null, "replica A sees the registration made through B");
        var versionB = (long)(await replicaB.SnapshotAsync())["version"]!;
        Assert.Equal(versionB, (long)(await workloadA.GetFromJsonAsync<JsonObject>("/v1/snapshot"))!["version"]!);

        // A watcher of B, parked on that version, gets a policy written through A.
        var watch = replicaB.Workload.GetAsync($"/v1/snapshot?since={versionB}&wait=20");
        await replicaB.WatchersParkedAsync();
        Assert.False(watch.IsCompleted);
        var written = Stopwatch.StartNew();
        var put = await adminA.PutAsync("/v1/policies/inventory", TestMeshd.Json("""{ "LoadBalancer": "LeastRequest" }"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var response = await watch;
        output.WriteLine($"a write through replica A reached a watcher of replica B after {written.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var snapshot = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("LeastRequest", (string?)snapshot["services"]!["inventory"]!["policy"]!["LoadBalancer"]);
        Assert.True(written.Elapsed < TimeSpan.FromSeconds(2));

        // Replica A dies; B keeps serving reads, watches and writes.
        replicaA.Kill();
        var afterKill = (long)(await replicaB.SnapshotAsync())["version"]!;
        var nextWatch = replicaB.Workload.GetAsync($"/v1/snapshot?since={afterKill}&wait=20");
        var patch = await replicaB.Admin.PatchAsync("/v1/policies/inventory", TestMeshd.Json("""{ "Retry": { "MaxAttempts": 4 } }""", "application/merge-patch+json"));
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal(2, (long)(await patch.Content.ReadFromJsonAsync<JsonObject>())!["version"]!);
        var next = (await (await nextWatch).Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(4, (int)next["services"]!["inventory"]!["policy"]!["Retry"]!["MaxAttempts"]!);
        Assert.Equal(HttpStatusCode.OK, (await replicaB.Workload.PostAsync("/v1/services/inventory/instances/inv-1/renew", null)).StatusCode);
    }

    [Fact]
    public async Task Concurrent_policy_writes_through_two_replicas_lose_no_version()
    {
        using var directory = new TempDirectory();
        var prefix = $"/mesh-test-{Guid.NewGuid():N}/";
        (string, string)[] etcdSettings = [("Meshd:Store", "etcd"), ("Meshd:Etcd:Endpoint", etcd.Endpoint.ToString()), ("Meshd:Etcd:Prefix", prefix)];
        await using var a = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path, etcdSettings));
        await using var b = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path, etcdSettings));

        var writes = Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? a : b).PutPolicyAsync("inventory", $$"""{ "Retry": { "MaxAttempts": {{1 + (i % 10)}} } }"""));
        var responses = await Task.WhenAll(writes);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        var versions = new List<long>();
        foreach (var response in responses)
        {
            versions.Add((long)(await response.Content.ReadFromJsonAsync<JsonObject>())!["version"]!);
        }

        Assert.Equal(Enumerable.Range(1, 20).Select(v => (long)v), versions.Order());
        var history = (await b.Admin.GetFromJsonAsync<JsonArray>("/v1/policies/inventory/history"))!;
        Assert.Equal(20, history.Count);
    }

    [Fact]
    public async Task A_lapsed_lease_is_removed_once_with_two_replicas_sweeping()
    {
        using var directory = new TempDirectory();
        var prefix = $"/mesh-test-{Guid.NewGuid():N}/";
        (string, string)[] etcdSettings =
        [
            ("Meshd:Store", "etcd"), ("Meshd:Etcd:Endpoint", etcd.Endpoint.ToString()), ("Meshd:Etcd:Prefix", prefix),
            ("Meshd:LeaseTtl", "00:00:00.800"),
        ];
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var a = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path, etcdSettings), TestMeshd.Clock(time));
        await using var b = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path, etcdSettings), TestMeshd.Clock(time));

        await a.RegisterAsync("inventory", "kept", "http://127.0.0.1:5001");
        await a.RegisterAsync("inventory", "lapsed", "http://127.0.0.1:5002");
        // Both replicas see both instances before the clock moves.
        foreach (var replica in new[] { a, b })
        {
            await Eventually.WaitAsync(
                async () => (await replica.SnapshotAsync())["services"]!["inventory"]?["instances"]!.AsArray().Count == 2,
                "both registrations are seen");
        }

        // Renewed through the other replica every 200 ms (leases live in etcd, not in one replica's memory), while both
        // replicas sweep: the lapsed one is removed, the kept one never.
        for (var step = 0; step < 13; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(200));
            Assert.Equal(HttpStatusCode.OK, (await b.Workload.PostAsync("/v1/services/inventory/instances/kept/renew", null)).StatusCode);
            await Task.WhenAll(a.Registry.SweepAsync(CancellationToken.None), b.Registry.SweepAsync(CancellationToken.None));
        }

        foreach (var replica in new[] { a, b })
        {
            await Eventually.WaitAsync(
                async () => (await replica.SnapshotAsync())["services"]!["inventory"]!["instances"]!.AsArray().Count == 1,
                "the lapsed instance is gone");
            Assert.Equal("kept", (string?)(await replica.SnapshotAsync())["services"]!["inventory"]!["instances"]![0]!["instanceId"]);
        }
    }
}
