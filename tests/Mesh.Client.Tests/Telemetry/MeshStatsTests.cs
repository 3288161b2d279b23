using Mesh.Telemetry;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Telemetry;

/// <summary>The sliding minute of <see cref="MeshStats"/>, on a fake clock.</summary>
public sealed class MeshStatsTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Rate_success_and_percentiles_cover_the_last_minute_only()
    {
        var stats = new MeshStats(_time);

        // 100 calls in the first 10 seconds: 90 fast successes, 10 slow failures.
        for (var second = 0; second < 10; second++)
        {
            for (var i = 0; i < 10; i++)
            {
                stats.Record("inventory", TimeSpan.FromMilliseconds(i == 9 ? 400 : 2), success: i != 9);
            }

            _time.Advance(TimeSpan.FromSeconds(1));
        }

        var now = Assert.Single(stats.GetSnapshot());
        Assert.Equal("inventory", now.Service);
        Assert.Equal(100, now.Requests);
        Assert.Equal(0.9, now.SuccessRate, precision: 6);
        Assert.InRange(now.RequestsPerSecond, 100 / 11.0, 10.0);
        Assert.InRange(now.P50.TotalMilliseconds, 2, 2.5);
        Assert.InRange(now.P99.TotalMilliseconds, 400, 500);

        // A minute later the first calls have left the window.
        _time.Advance(TimeSpan.FromSeconds(55));
        stats.Record("inventory", TimeSpan.FromMilliseconds(2), success: true);
        var later = Assert.Single(stats.GetSnapshot());
        Assert.True(later.Requests < 100, $"{later.Requests} calls still in the window");

        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.Empty(stats.GetSnapshot());
    }

    [Fact]
    public void Services_are_reported_apart()
    {
        var stats = new MeshStats(_time);

        stats.Record("a", TimeSpan.FromMilliseconds(1), success: true);
        stats.Record("b", TimeSpan.FromMilliseconds(1), success: false);

        Assert.Equal(["a", "b"], stats.GetSnapshot().Select(s => s.Service));
        Assert.Equal([1.0, 0.0], stats.GetSnapshot().Select(s => s.SuccessRate));
    }
}
