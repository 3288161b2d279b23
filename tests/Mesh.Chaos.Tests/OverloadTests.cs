namespace Mesh.Chaos.Tests;

/// <summary>Offered load ten times what the backends serve: callers fail fast, the client stays bounded, and recovery is quick.</summary>
public sealed class OverloadTests(ITestOutputHelper output)
{
    [Fact]
    public Task TenTimesCapacity() => Scenario.WithinDeadline(async () =>
    {
        // Each backend serves 2 requests at once of 100 ms: 20 a second, 40 for each service of two instances.
        await using var mesh = await ChaosMesh.StartAsync(backendDelayMs: 100, capacity: 2);
        const string limited = """
            { "RateLimit": { "PermitsPerSecond": 40, "Burst": 10 },
              "CircuitBreaker": { "FailureRatio": 0.5, "MinimumThroughput": 20, "SamplingDuration": "00:00:05", "BreakDuration": "00:00:01" } }
            """;
        using (var inventory = await mesh.Meshd.PatchPolicyAsync("inventory", limited))
        using (var payments = await mesh.Meshd.PatchPolicyAsync("payments", limited))
        {
            inventory.EnsureSuccessStatusCode();
            payments.EnsureSuccessStatusCode();
        }

        await Eventually.WaitAsync(async () => (await mesh.Meshd.SnapshotAsync())["services"]?["inventory"]?["policy"]?["RateLimit"] is not null, "the limit in meshd's snapshot");

        var before = Resources.Sample();
        var samples = new List<Resources>();
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            // A sample every 200 ms until the load ends: the sampler's pace, not a wait for a result.
            using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
            do
            {
                samples.Add(Resources.Sample());
            }
            while (await WaitAsync(tick, sampling.Token));
        });

        var overload = await Traffic.RunOpenAsync(mesh.Gateway, perSecond: 400, TimeSpan.FromSeconds(8));
        await sampling.CancelAsync();
        await sampler;
        overload.AssertAccounting(output, "overload: 400/s offered, 40/s served");
        var failedDurations = overload.Samples.Where(s => !s.Ok).Select(s => s.Ms).Order().ToList();
        var failedMedian = failedDurations.Count == 0 ? 0 : failedDurations[failedDurations.Count / 2];
        var peak = samples.MaxBy(s => s.WorkingSet);
        output.WriteLine($"before: {before}");
        output.WriteLine($"peak:   {peak}; most pool threads {samples.Max(s => s.PoolThreads)}; failed median {failedMedian:F0} ms");

        // Most of the offered load is refused, and refused fast rather than queued to its deadline.
        Assert.True(overload.Failed > overload.Sent / 2, overload.Summary("overload"));
        Assert.True(failedMedian < Traffic.Deadline.TotalMilliseconds / 2, $"failed requests took {failedMedian:F0} ms at the median");

        // Bounded: generous margins over what the process held before.
        Assert.True(samples.Max(s => s.PoolThreads) < 200, $"pool threads rose to {samples.Max(s => s.PoolThreads)}");
        Assert.True(peak.ManagedBytes - before.ManagedBytes < 512L << 20, $"managed memory grew by {(peak.ManagedBytes - before.ManagedBytes) >> 20} MiB");

        // Load falls to what the backends serve: within seconds calls succeed again.
        var recovery = await Traffic.RunAsync(mesh.Gateway, callers: 2, TimeSpan.FromSeconds(8));
        recovery.AssertAccounting(output, "after the overload, 2 callers");
        Assert.True(recovery.SuccessRate(recovery.Elapsed.TotalSeconds - 4, double.MaxValue) >= 0.95, recovery.Summary("last 4 s of recovery"));
    }, TimeSpan.FromSeconds(120));

    private static async Task<bool> WaitAsync(PeriodicTimer tick, CancellationToken stop)
    {
        try
        {
            return await tick.WaitForNextTickAsync(stop);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
