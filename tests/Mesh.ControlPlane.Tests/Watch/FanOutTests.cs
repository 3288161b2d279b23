using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace Meshd.Tests.Watch;

/// <summary>
/// The fan-out of parked watchers: one deadline timer for all of them, a place given back when a client leaves, and
/// every watcher of a version answered with the same bytes while changes come one after the other.
/// </summary>
public sealed class FanOutTests
{
    private const int Watchers = 200;

    [Fact]
    public async Task Every_watcher_of_a_version_gets_the_same_bytes_and_none_misses_the_last_change()
    {
        await using var meshd = await TestMeshd.StartAsync();
        var start = (long)(await meshd.SnapshotAsync())["version"]!;
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Watchers + 10 }) { BaseAddress = meshd.Address, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", TestMeshd.WorkloadToken);
        // Each watcher follows the versions as a client does, from the version it was last answered with, until it has
        // the snapshot with the last instance registered below.
        async Task<Dictionary<long, string>> FollowAsync()
        {
            var seen = new Dictionary<long, string>();
            var since = start;
            var body = Array.Empty<byte>();
            while (!Encoding.UTF8.GetString(body).Contains("\"inv-4\"", StringComparison.Ordinal))
            {
                using var response = await client.GetAsync($"/v1/snapshot?since={since}&wait=20");
                if (response.StatusCode == HttpStatusCode.NotModified)
                {
                    continue;
                }

                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                body = await response.Content.ReadAsByteArrayAsync();
                since = long.Parse(response.Headers.GetValues("Mesh-Version").Single(), System.Globalization.CultureInfo.InvariantCulture);
                seen[since] = Convert.ToHexString(SHA256.HashData(body));
            }

            return seen;
        }

        var followers = Enumerable.Range(0, Watchers).Select(_ => Task.Run(FollowAsync)).ToArray();
        await meshd.WatchersParkedAsync(Watchers);

        // Changes one after the other, without waiting for the watchers to come back between them.
        for (var i = 0; i < 5; i++)
        {
            (await meshd.RegisterAsync("inventory", $"inv-{i}", $"http://127.0.0.1:{5000 + i}")).EnsureSuccessStatusCode();
        }

        var last = meshd.State.Head.Snapshot;
        var seen = await Task.WhenAll(followers).WaitAsync(TimeSpan.FromSeconds(60));

        // All end at the last version, with its bytes; any version two watchers saw, they saw byte for byte alike.
        Assert.All(seen, s => Assert.Equal(Convert.ToHexString(SHA256.HashData(last.Utf8Json)), s[last.Version]));
        foreach (var version in seen.SelectMany(s => s.Keys).Distinct())
        {
            Assert.Single(seen.Where(s => s.ContainsKey(version)).Select(s => s[version]).Distinct());
        }

        Assert.Equal(0, meshd.State.Waiting);
    }

    [Fact]
    public async Task Watchers_time_out_at_their_own_deadlines_from_one_timer()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var directory = new TempDirectory();
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path), TestMeshd.Clock(time));
        var version = (long)(await meshd.SnapshotAsync())["version"]!;

        // Waits of 10, 20 and 30 s, each ±10%: after 15 s only the first is answered, after 25 s the second.
        var waits = Enumerable.Range(1, 3).Select(n => n * 10).Select(s => meshd.Workload.GetAsync($"/v1/snapshot?since={version}&wait={s}")).ToArray();
        await meshd.WatchersParkedAsync(3);

        time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(HttpStatusCode.NotModified, (await waits[0].WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
        Assert.False(waits[1].IsCompleted || waits[2].IsCompleted);
        Assert.Equal(2, meshd.State.Waiting);

        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.NotModified, (await waits[1].WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
        Assert.False(waits[2].IsCompleted);

        // The last one still gets a change.
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        Assert.Equal(HttpStatusCode.OK, (await waits[2].WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
        Assert.Equal(0, meshd.State.Waiting);
    }

    [Fact]
    public async Task A_watcher_whose_client_leaves_gives_its_place_back()
    {
        await using var meshd = await TestMeshd.StartAsync(("Meshd:Limits:MaxWatchers", "1"));
        var version = (long)(await meshd.SnapshotAsync())["version"]!;
        using (var socket = await LoopbackClients.ConnectAsync(meshd.Address))
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /v1/snapshot?since={version}&wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TestMeshd.WorkloadToken}\r\n\r\n"), SocketFlags.None);
            await meshd.WatchersParkedAsync(1);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await meshd.Workload.GetAsync($"/v1/snapshot?since={version}&wait=60")).StatusCode);
        }

        // Long before its 60 s wait: the place is free for the next watcher, which gets the next change.
        await meshd.WatchersParkedAsync(0);
        var next = meshd.Workload.GetAsync($"/v1/snapshot?since={version}&wait=60");
        await meshd.WatchersParkedAsync(1);
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        Assert.Equal(HttpStatusCode.OK, (await next.WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
    }
}
