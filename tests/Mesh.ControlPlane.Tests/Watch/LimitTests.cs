using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Meshd.Tests.Infrastructure;

namespace Meshd.Tests.Watch;

/// <summary>
/// Issue #15, item 3 and the stated limits: a client that stops reading is dropped after a bounded time; parked
/// watchers, instances per service, value and snapshot sizes are bounded, refused past the bound with a status and
/// Retry-After, and what exists keeps being served.
/// </summary>
public sealed class LimitTests
{
    [Fact]
    public async Task Watchers_that_stop_reading_a_large_snapshot_are_dropped_and_the_others_are_served()
    {
        using var directory = new TempDirectory();
        // 3 s: time for the reading watcher to take 5 MB on a loaded machine, and still well within the wait for the others to go.
        using var meshd = await MeshdProcess.StartAsync(TestMeshd.Settings(directory.Path, ("Meshd:Limits:WatcherWriteTimeout", "00:00:03"), ("Meshd:LeaseTtl", "00:05:00")));
        using var workload = TestMeshd.Client(meshd.Address, TestMeshd.WorkloadToken);
        using var admin = TestMeshd.Client(meshd.Address, TestMeshd.AdminToken);

        // Over 5 MB: more than the kernel buffers for a loopback socket (4 MB), so an answer nobody reads stays in meshd.
        var labels = string.Join(", ", Enumerable.Range(0, 30).Select(i => $"\"label{i}\": \"{new string('x', 250)}\""));
        await Parallel.ForEachAsync(Enumerable.Range(0, 680), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, cancellationToken) =>
        {
            var registered = await workload.PutAsync($"/v1/services/big/instances/i{i}", TestMeshd.Json($$"""{ "address": "http://127.0.0.1:{{6000 + i}}", "labels": { {{labels}} } }"""), cancellationToken);
            Assert.Equal(HttpStatusCode.OK, registered.StatusCode);
        });

        var snapshot = await workload.GetAsync("/v1/snapshot");
        var size = (await snapshot.Content.ReadAsByteArrayAsync()).Length;
        Assert.True(size > 5_000_000, $"snapshot of {size} bytes");
        var version = long.Parse(snapshot.Headers.GetValues("Mesh-Version").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, (await admin.GetFromJsonAsync<JsonObject>("/v1/status"))!["watchers"]!["parked"]!.GetValue<int>());
        var open = Sockets(meshd.Pid);

        // Twenty clients ask for the snapshot and never read it.
        var stalled = new List<Socket>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                socket.Connect(IPAddress.Loopback, meshd.Address.Port);
                await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /v1/snapshot HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TestMeshd.WorkloadToken}\r\n\r\n"));
                stalled.Add(socket);
            }

            // A reading watcher is served meanwhile. Should the version have moved on before it parked, it is answered at
            // once and asks again with the version it got, as a client does; the wait allows for 20 writes of 5 MB on a
            // loaded machine.
            var watch = workload.GetAsync($"/v1/snapshot?since={version}&wait=20");
            var answeredEarly = new List<string>();
            await Eventually.WaitAsync(
                async () =>
                {
                    if (watch.IsCompleted)
                    {
                        using var early = await watch;
                        answeredEarly.Add($"{(int)early.StatusCode} at version {early.Headers.GetValues("Mesh-Version").SingleOrDefault()}");
                        Assert.True(answeredEarly.Count <= 3, $"the watch never parked: {string.Join(", ", answeredEarly)}");
                        version = long.Parse(early.Headers.GetValues("Mesh-Version").Single(), System.Globalization.CultureInfo.InvariantCulture);
                        if (early.StatusCode == HttpStatusCode.OK)
                        {
                            size = (await early.Content.ReadAsByteArrayAsync()).Length;
                        }

                        watch = workload.GetAsync($"/v1/snapshot?since={version}&wait=20");
                        return false;
                    }

                    return (await admin.GetFromJsonAsync<JsonObject>("/v1/status"))!["watchers"]!["parked"]!.GetValue<int>() == 1;
                },
                "the watcher parked",
                TimeSpan.FromSeconds(30));
            await admin.PutAsync("/v1/policies/big", TestMeshd.Json("""{ "LoadBalancer": "RoundRobin" }"""));
            var answer = await watch;
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.True((await answer.Content.ReadAsByteArrayAsync()).Length > size);

            // The stalled ones are cut off after the write timeout, so they pin nothing in meshd.
            // (The watch may have opened one more connection of its own.)
            await Eventually.WaitAsync(() => Sockets(meshd.Pid) <= open + 1, $"the stalled connections are dropped ({open} sockets before)", TimeSpan.FromSeconds(20));
        }
        finally
        {
            foreach (var socket in stalled)
            {
                socket.Dispose();
            }
        }
    }

    private static int Sockets(int pid) =>
        Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count(fd => new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true);

    [Fact]
    public async Task Parked_watchers_are_bounded_and_one_past_the_bound_gets_503_with_retry_after()
    {
        await using var meshd = await TestMeshd.StartAsync(("Meshd:Limits:MaxWatchers", "2"));
        var version = (long)(await meshd.SnapshotAsync())["version"]!;
        var first = meshd.Workload.GetAsync($"/v1/snapshot?since={version}&wait=20");
        var second = meshd.Workload.GetAsync($"/v1/snapshot?since={version}&wait=20");
        await meshd.WatchersParkedAsync(2);

        var third = await meshd.Workload.GetAsync($"/v1/snapshot?since={version}&wait=20");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, third.StatusCode);
        Assert.True(third.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Contains("MaxWatchers", await third.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The snapshot itself is still served at once, and the parked watchers get the change.
        Assert.Equal(HttpStatusCode.OK, (await meshd.Workload.GetAsync("/v1/snapshot")).StatusCode);
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second).StatusCode);
        Assert.Equal(0, meshd.State.Waiting);
    }

    [Fact]
    public async Task Instances_per_service_are_bounded_and_existing_ones_keep_registering_and_renewing()
    {
        await using var meshd = await TestMeshd.StartAsync(("Meshd:Limits:MaxInstancesPerService", "3"));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await meshd.RegisterAsync("inventory", $"inv-{i}", $"http://127.0.0.1:{5000 + i}")).StatusCode);
        }

        var refused = await meshd.RegisterAsync("inventory", "inv-3", "http://127.0.0.1:5003");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Contains("MaxInstancesPerService", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await meshd.RegisterAsync("inventory", "inv-0", "http://127.0.0.1:6000")).StatusCode);
        Assert.True(await meshd.RenewAsync("inventory", "inv-1"));
        Assert.Equal(HttpStatusCode.OK, (await meshd.RegisterAsync("payments", "pay-0", "http://127.0.0.1:7000")).StatusCode);
        Assert.Equal(3, (await meshd.SnapshotAsync())["services"]!["inventory"]!["instances"]!.AsArray().Count);

        // Concurrent newcomers cannot overshoot the bound together.
        await meshd.DeregisterAsync("inventory", "inv-2");
        var racing = await Task.WhenAll(Enumerable.Range(10, 10).Select(i => meshd.RegisterAsync("inventory", $"inv-{i}", $"http://127.0.0.1:{5000 + i}")));
        Assert.Single(racing, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Equal(3, (await meshd.SnapshotAsync())["services"]!["inventory"]!["instances"]!.AsArray().Count);
    }

    [Fact]
    public async Task Values_and_the_whole_snapshot_are_bounded_in_size()
    {
        await using var meshd = await TestMeshd.StartAsync(("Meshd:Limits:MaxValueBytes", "512"), ("Meshd:Limits:MaxSnapshotBytes", "4096"));
        var big = await meshd.Workload.PutAsync("/v1/services/inventory/instances/big", TestMeshd.Json($$"""{ "address": "http://127.0.0.1:5001", "zone": "{{new string('z', 100)}}", "labels": { "a": "{{new string('x', 250)}}", "b": "{{new string('y', 250)}}" } }"""));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
        Assert.Contains("MaxValueBytes", await big.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        HttpResponseMessage? last = null;
        for (var i = 0; i < 100; i++)
        {
            last = await meshd.Workload.PutAsync($"/v1/services/inventory/instances/i{i}", TestMeshd.Json($$"""{ "address": "http://127.0.0.1:{{5000 + i}}", "labels": { "a": "{{new string('x', 200)}}" } }"""));
            if (last.StatusCode != HttpStatusCode.OK)
            {
                break;
            }
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, last!.StatusCode);
        Assert.True(last.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Contains("MaxSnapshotBytes", await last.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(meshd.State.Head.Snapshot.Utf8Json.Length <= 4096, $"{meshd.State.Head.Snapshot.Utf8Json.Length} bytes");
        Assert.True((await meshd.SnapshotAsync())["services"]!["inventory"]!["instances"]!.AsArray().Count > 5);
    }
}
