namespace Mesh.Chaos.Tests;

/// <summary>A thousand watchers of meshd when it restarts: they come back spread out by the mesh's jittered back-off.</summary>
public sealed class ReconnectStormTests(ITestOutputHelper output)
{
    private const int Watchers = 1000;

    [Fact]
    public Task ThousandWatchersReconnectSpreadOut() => Scenario.WithinDeadline(async () =>
    {
        await using var meshd = await TestMeshd.StartAsync();
        await using var storm = WatcherStorm.Start(meshd.Address, TestMeshd.WorkloadToken, Watchers);
        await meshd.WatchersParkedAsync(Watchers, TimeSpan.FromSeconds(60));

        await meshd.StopAsync();

        // Down long enough for the back-off to reach its cap (5 s after 7 failures in a row), then back.
        await Eventually.WaitAsync(() => storm.Failures >= Watchers * 8, "eight failures per watcher", TimeSpan.FromSeconds(90));
        await meshd.StartAgainAsync();
        storm.MarkRestarted();
        await Eventually.WaitAsync(() => storm.Reconnected.Count == Watchers, $"{Watchers} watchers reconnected", TimeSpan.FromSeconds(60));

        var bucket = TimeSpan.FromMilliseconds(250);
        output.WriteLine($"reconnect times of {Watchers} watchers after meshd's restart ({bucket.TotalMilliseconds} ms buckets):");
        output.WriteLine(storm.Render(bucket));
        var times = storm.Reconnected.Values.Order().ToList();
        double At(double q) => times[(int)(q * (times.Count - 1))];
        output.WriteLine($"p10 {At(0.1):F2} s, p50 {At(0.5):F2} s, p90 {At(0.9):F2} s, max {times[^1]:F2} s");

        // Spread, not one burst: no quarter second holds a quarter of them (spread evenly over 5 s, one holds about 5%),
        // and the middle 80% span at least a second.
        Assert.True(storm.Histogram(bucket).Max(b => b.Count) < Watchers / 4, "a quarter of the watchers came back within one quarter second");
        Assert.True(At(0.9) - At(0.1) >= 1.0, $"the middle 80% came back within {At(0.9) - At(0.1):F2} s");

        // And every one of them is parked again.
        await meshd.WatchersParkedAsync(Watchers, TimeSpan.FromSeconds(60));
    }, TimeSpan.FromSeconds(150));
}
