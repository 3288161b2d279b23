using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Meshd.Tests.Storage;

public sealed class EtcdOutageTests
{
    [Fact]
    public async Task Meshd_keeps_serving_its_snapshot_while_etcd_is_down_and_follows_again_when_it_returns()
    {
        await using var etcd = new EtcdServer();
        await etcd.InitializeAsync();
        using var directory = new TempDirectory();
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(
            directory.Path,
            ("Meshd:Store", "etcd"), ("Meshd:Etcd:Endpoint", etcd.Endpoint.ToString()), ("Meshd:Etcd:Prefix", "/outage/")));
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        var version = (long)(await meshd.SnapshotAsync())["version"]!;

        etcd.Kill();

        // Reads and watches are answered from memory; a write is refused with 503, nothing half-done.
        Assert.Equal("inv-1", (string?)(await meshd.SnapshotAsync())["services"]!["inventory"]!["instances"]![0]!["instanceId"]);
        Assert.Equal(HttpStatusCode.NotModified, (await meshd.Workload.GetAsync($"/v1/snapshot?since={version}&wait=0.2")).StatusCode);
        var refused = await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);

        await etcd.RestartAsync();

        // The watch resumes by itself: a write through meshd, once etcd answers, shows in its snapshot.
        await Eventually.WaitAsync(
            async () => (await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""")).IsSuccessStatusCode,
            "a write succeeds after etcd returns",
            TimeSpan.FromSeconds(20));
        var snapshot = (await meshd.Workload.GetFromJsonAsync<JsonObject>("/v1/snapshot"))!;
        Assert.Equal("RoundRobin", (string?)snapshot["services"]!["inventory"]!["policy"]!["LoadBalancer"]);
        Assert.True((long)snapshot["version"]! > version);
        var history = (await meshd.Admin.GetFromJsonAsync<JsonArray>("/v1/policies/inventory/history"))!;
        Assert.Single(history);
    }
}
