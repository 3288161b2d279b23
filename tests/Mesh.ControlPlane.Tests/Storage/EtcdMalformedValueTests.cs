using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Net.Client;
using Meshd.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Meshd.Tests.Storage;

/// <summary>
/// Issue #15, item 2: values under meshd's prefix that meshd did not write ("not json", a half-written document) are
/// skipped and logged once; every replica keeps converging, and a replica starts with them present.
/// </summary>
[Collection(EtcdGroup.Name)]
public sealed class EtcdMalformedValueTests(EtcdServer etcd)
{
    [Fact]
    public async Task A_malformed_value_is_skipped_and_logged_once_the_mesh_keeps_converging_and_a_replica_starts_with_it()
    {
        using var directory = new TempDirectory();
        var prefix = $"/mesh-test-{Guid.NewGuid():N}/";
        var settings = TestMeshd.Settings(directory.Path, ("Meshd:Store", "etcd"), ("Meshd:Etcd:Endpoint", etcd.Endpoint.ToString()), ("Meshd:Etcd:Prefix", prefix), ("Meshd:LeaseTtl", "00:05:00"));
        var logsA = new LogCollector();
        await using var a = await TestMeshd.StartAsync(settings, services => services.AddLogging(b => b.AddProvider(logsA)));
        await using var b = await TestMeshd.StartAsync(settings);
        await a.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        await a.PutPolicyAsync("payments", """{ "LoadBalancer": "RoundRobin" }""");

        // Values meshd never wrote, in each of its key spaces.
        await PutRawAsync(prefix + "instances/inventory/bad", "not json");
        await PutRawAsync(prefix + "instances/inventory/half", "{ \"instanceId\": \"half\", ");
        await PutRawAsync(prefix + "leases/inventory/inv-1", "not json");
        await PutRawAsync(prefix + "policies/payments", "{ \"version\": ");

        // Later writes through either replica reach both snapshots.
        Assert.Equal(HttpStatusCode.OK, (await b.RegisterAsync("inventory", "inv-2", "http://127.0.0.1:5002")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await a.PutPolicyAsync("orders", """{ "LoadBalancer": "Random" }""")).StatusCode);
        foreach (var replica in new[] { a, b })
        {
            await Eventually.WaitAsync(async () => Converged(await replica.SnapshotAsync()), "both writes in the snapshot");
        }

        // A third replica starts with the bad values present and serves the same snapshot.
        await using var c = await TestMeshd.StartAsync(settings);
        var snapshot = await c.SnapshotAsync();
        Assert.True(Converged(snapshot), snapshot.ToJsonString());
        Assert.Equal(
            (await a.SnapshotAsync())["services"]!.ToJsonString(),
            snapshot["services"]!.ToJsonString());

        // The bad policy was left out: payments is back to no policy; a write through meshd repairs it.
        Assert.Null(snapshot["services"]!["payments"]);
        var repaired = await c.PutPolicyAsync("payments", """{ "LoadBalancer": "LeastRequest" }""");
        Assert.Equal(HttpStatusCode.OK, repaired.StatusCode);
        Assert.Equal(2, (long)(await repaired.Content.ReadFromJsonAsync<JsonObject>())!["version"]!);

        // Logged once per bad value, naming its key.
        var warnings = logsA.Entries.Where(e => e.EventId.Id == 3 && e.Category.EndsWith("MeshState", StringComparison.Ordinal)).ToList();
        foreach (var key in new[] { "instances/inventory/bad", "instances/inventory/half", "leases/inventory/inv-1", "policies/payments" })
        {
            Assert.Single(warnings, w => w.Message.Contains($"'{key}'", StringComparison.Ordinal) && w.Level == LogLevel.Warning);
        }
    }

    private static bool Converged(JsonObject snapshot)
    {
        var ids = snapshot["services"]!["inventory"]?["instances"]!.AsArray().Select(i => (string?)i!["instanceId"]).ToList() ?? [];
        return ids.SequenceEqual(["inv-1", "inv-2"]) && (string?)snapshot["services"]!["orders"]?["policy"]?["LoadBalancer"] == "Random";
    }

    private async Task PutRawAsync(string key, string value)
    {
        using var channel = GrpcChannel.ForAddress(etcd.Endpoint);
        await new KV.KVClient(channel).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) });
    }
}
