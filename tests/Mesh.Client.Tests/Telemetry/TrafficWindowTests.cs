using Mesh.ControlPlane.Contract;
using Mesh.Telemetry;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Telemetry;

/// <summary>The per-peer minute behind <see cref="MeshStats"/>, the inbound stats and the instance's report, on a fake clock.</summary>
public sealed class TrafficWindowTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void The_buckets_are_the_ones_the_report_contract_states()
    {
        Assert.Equal(InstanceReportLimits.LatencyBuckets, TrafficWindow.Buckets);
        Assert.Equal(InstanceReportLimits.FirstBucketMs, TrafficWindow.FirstBoundMs);
        Assert.Equal(InstanceReportLimits.BucketGrowth, TrafficWindow.Growth);
        Assert.Equal(MeshStats.WindowSeconds, TrafficWindow.WindowSeconds);
    }

    [Fact]
    public void Raw_counts_hold_every_call_in_its_bucket_and_the_percentiles_are_bucket_bounds()
    {
        var window = new TrafficWindow(_time);
        for (var i = 0; i < 10; i++)
        {
            window.Record("inventory", TimeSpan.FromMilliseconds(i == 9 ? 400 : 2), success: i != 9);
        }

        _time.Advance(TimeSpan.FromSeconds(4));
        window.Record("payments", TimeSpan.FromTicks(1), success: true);

        var counts = window.GetCounts();
        Assert.Equal(["inventory", "payments"], counts.Select(c => c.Peer));
        var inventory = counts[0];
        Assert.Equal(10, inventory.Requests);
        Assert.Equal(9, inventory.Successes);
        Assert.Equal(5, inventory.Seconds);
        Assert.Equal(2.0, inventory.RequestsPerSecond);
        Assert.Equal(9, inventory.Latency[TrafficWindow.BucketOf(2)]);
        Assert.Equal(1, inventory.Latency[TrafficWindow.BucketOf(400)]);
        Assert.Equal(10, inventory.Latency.Sum());
        Assert.Equal(TrafficWindow.UpperBoundMs(TrafficWindow.BucketOf(2)), inventory.PercentileMs(0.5));
        Assert.Equal(TrafficWindow.UpperBoundMs(TrafficWindow.BucketOf(400)), inventory.PercentileMs(0.99));
        Assert.InRange(inventory.PercentileMs(0.99), 400, 500);

        // Trailing empty buckets are left out of what is sent; the first bucket takes anything up to 0.1 ms.
        Assert.Equal(TrafficWindow.BucketOf(400) + 1, inventory.TrimmedLatency().Length);
        Assert.Equal([1L], counts[1].TrimmedLatency());

        // MeshStats reads the same counts.
        var stats = new MeshStats(_time);
        stats.Record("inventory", TimeSpan.FromMilliseconds(2), success: true);
        Assert.Equal(TimeSpan.FromMilliseconds(stats.GetCounts()[0].PercentileMs(0.5)), stats.GetSnapshot()[0].P50);
    }

    [Fact]
    public void Peers_come_busiest_first_and_a_peer_quiet_for_a_minute_is_forgotten()
    {
        var window = new TrafficWindow(_time, maxPeers: 2, overflow: "unknown");
        window.Record("a", TimeSpan.FromMilliseconds(1), success: true);
        window.Record("b", TimeSpan.FromMilliseconds(1), success: true);
        window.Record("b", TimeSpan.FromMilliseconds(1), success: true);

        // Past the bound, a new peer counts under the overflow name.
        window.Record("c", TimeSpan.FromMilliseconds(1), success: true);
        window.Record("d", TimeSpan.FromMilliseconds(1), success: false);
        Assert.Equal(["b", "unknown", "a"], window.GetCounts().Select(c => c.Peer));
        Assert.Equal(2, window.GetCounts().Single(c => c.Peer == "unknown").Requests);

        // A minute later everything left the window and the peers are dropped, so new ones are kept apart again.
        _time.Advance(TimeSpan.FromSeconds(TrafficWindow.WindowSeconds));
        Assert.Empty(window.GetCounts());
        window.Record("e", TimeSpan.FromMilliseconds(1), success: true);
        window.Record("f", TimeSpan.FromMilliseconds(1), success: true);
        Assert.Equal(["e", "f"], window.GetCounts().Select(c => c.Peer));
    }

    [Fact]
    public void Recording_a_call_of_a_known_peer_allocates_nothing()
    {
        var window = new TrafficWindow(_time, maxPeers: 16, overflow: "unknown");
        var duration = TimeSpan.FromMilliseconds(3);
        window.Record("inventory", duration, success: true);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            window.Record("inventory", duration, success: i % 7 != 0);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_001, window.GetCounts()[0].Requests);
    }
}
