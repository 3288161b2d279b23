using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Meshd.Tests.Watch;

public sealed class SnapshotTests
{
    [Fact]
    public async Task Without_since_or_with_an_old_version_the_snapshot_comes_at_once()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        var version = (long)(await meshd.SnapshotAsync())["version"]!;
        await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");

        var watch = Stopwatch.StartNew();
        var response = await meshd.Workload.GetAsync($"/v1/snapshot?since={version}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2));
        var snapshot = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.True((long)snapshot["version"]! > version);
        Assert.Equal(snapshot["version"]!.ToString(), response.Headers.GetValues("Mesh-Version").Single());
        Assert.Equal("RoundRobin", (string?)snapshot["services"]!["inventory"]!["policy"]!["LoadBalancer"]);
    }

    [Fact]
    public async Task A_stopping_meshd_answers_its_parked_watchers_with_no_change_instead_of_holding_its_stop()
    {
        await using var meshd = await TestMeshd.StartAsync();
        var version = (long)(await meshd.SnapshotAsync())["version"]!;

        var watch = meshd.Workload.GetAsync($"/v1/snapshot?since={version}&wait=60");
        await meshd.WatchersParkedAsync();
        var stop = meshd.Host.DisposeAsync().AsTask();

        // Well within the watcher's 60 s and the host's 30 s shutdown timeout.
        var response = await watch.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(version.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers.GetValues("Mesh-Version").Single());
        await stop.WaitAsync(TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task A_watcher_at_the_current_version_waits_and_gets_the_change()
    {
        await using var meshd = await TestMeshd.StartAsync();
        var version = (long)(await meshd.SnapshotAsync())["version"]!;

        var watch = meshd.Workload.GetAsync($"/v1/snapshot?since={version}&wait=20");
        await meshd.WatchersParkedAsync();
        Assert.False(watch.IsCompleted);
        var changedAt = Stopwatch.StartNew();
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");

        var response = await watch;
        Assert.True(changedAt.Elapsed < TimeSpan.FromSeconds(1), $"delivered after {changedAt.Elapsed}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var snapshot = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("inv-1", (string?)snapshot["services"]!["inventory"]!["instances"]![0]!["instanceId"]);
    }

    [Fact]
    public async Task No_change_within_the_wait_answers_304_with_the_version()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        var version = (long)(await meshd.SnapshotAsync())["version"]!;

        var watch = Stopwatch.StartNew();
        var response = await meshd.Workload.GetAsync($"/v1/snapshot?since={version}&wait=0.5");
        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(version.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers.GetValues("Mesh-Version").Single());
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task A_version_the_server_never_had_is_answered_at_once()
    {
        await using var meshd = await TestMeshd.StartAsync();
        var response = await meshd.Workload.GetAsync("/v1/snapshot?since=999999&wait=10");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Healthz_needs_no_token()
    {
        await using var meshd = await TestMeshd.StartAsync();
        using var anonymous = TestMeshd.Client(meshd.Host.Address, null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);
    }
}
