namespace Mesh.Chaos.Tests;

/// <summary>
/// The soak: traffic with a fault every few seconds, in turn (kill -9 and a new instance, SIGSTOP/SIGCONT, a blackholed,
/// reset and slowed endpoint, meshd stopped and started), for <see cref="Scale.SoakDuration"/> (20 s in CI mode; set
/// <c>MESH_SOAK=1</c> for 30 minutes, <c>MESH_SOAK_MINUTES</c> to choose). Samples descriptors, sockets, memory and threads
/// every few seconds and checks they stay flat, and that the p99 of each period stays near the first's.
/// </summary>
public sealed class SoakTests(ITestOutputHelper output)
{
    [Fact]
    public Task FaultsInTurnWithLeakChecks() => Scenario.WithinDeadline(async () =>
    {
        await using var mesh = await ChaosMesh.StartAsync(proxyInventory: true);
        var proxy = mesh.Proxies[mesh.Inventory[1]];
        var duration = Scale.SoakDuration;
        var period = Scale.Soak ? TimeSpan.FromMinutes(1) : TimeSpan.FromSeconds(5);
        var samples = new List<(double At, Resources Resources)>();
        var faults = 0;
        var traffic = await Traffic.RunAsync(mesh.Gateway, callers: 4, duration, async t =>
        {
            var nextSample = 0.0;
            var nextFault = 3.0;
            var step = 0;

            // The schedule's clock: a tick every 100 ms decides what is due; nothing waits on it for a result.
            using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            while (t.Elapsed < duration - TimeSpan.FromSeconds(1))
            {
                var now = t.Elapsed.TotalSeconds;
                if (now >= nextSample)
                {
                    samples.Add((now, Resources.Sample()));
                    nextSample += Scale.Soak ? 10 : 2;
                }

                if (now >= nextFault && t.Elapsed < duration - TimeSpan.FromSeconds(4))
                {
                    await FaultAsync(mesh, proxy, step++);
                    faults++;
                    nextFault += Scale.Soak ? 20 : 3;
                }

                await tick.WaitForNextTickAsync();
            }

            await ClearAsync(mesh, proxy);
        });

        traffic.AssertAccounting(output, $"soak {duration.TotalMinutes:F1} min, {faults} faults");
        foreach (var (at, resources) in samples)
        {
            output.WriteLine($"{at,7:F0} s  {resources}");
        }

        var periods = (int)(duration / period);
        var p99s = Enumerable.Range(0, periods).Select(i => traffic.Percentile(0.99, i * period.TotalSeconds, (i + 1) * period.TotalSeconds)).ToList();
        output.WriteLine("p99 per period (ms): " + string.Join(", ", p99s.Select(p => p.ToString("F0", System.Globalization.CultureInfo.InvariantCulture))));

        // Flat: the last third's most, against the first third's most, within generous margins (GC and pools breathe).
        var third = Math.Max(1, samples.Count / 3);
        var first = samples.Take(third).Select(s => s.Resources).ToList();
        var last = samples.TakeLast(third).Select(s => s.Resources).ToList();
        Assert.True(last.Max(r => r.Descriptors) <= first.Max(r => r.Descriptors) + 150, $"descriptors grew: {first.Max(r => r.Descriptors)} → {last.Max(r => r.Descriptors)}");
        Assert.True(last.Max(r => r.Sockets) <= first.Max(r => r.Sockets) + 150, $"sockets grew: {first.Max(r => r.Sockets)} → {last.Max(r => r.Sockets)}");
        Assert.True(last.Max(r => r.Threads) <= first.Max(r => r.Threads) + 60, $"threads grew: {first.Max(r => r.Threads)} → {last.Max(r => r.Threads)}");
        Assert.True(last.Max(r => r.ManagedBytes) <= first.Max(r => r.ManagedBytes) + (256L << 20), $"managed memory grew: {first.Max(r => r.ManagedBytes) >> 20} → {last.Max(r => r.ManagedBytes) >> 20} MiB");

        // p99 stable: no period's p99 past the deadline plus its bound (a fault's calls end at their deadline, never beyond).
        Assert.All(p99s.Where(p => !double.IsNaN(p)), p => Assert.True(p <= (Traffic.Deadline + Traffic.HangBound).TotalMilliseconds, $"a period's p99 was {p:F0} ms"));
    }, Scale.SoakDuration + TimeSpan.FromMinutes(2));

    private static async Task FaultAsync(ChaosMesh mesh, FaultProxy proxy, int step)
    {
        await ClearAsync(mesh, proxy);
        switch (step % 6)
        {
            case 0:
                proxy.Mode = FaultMode.Blackhole;
                break;
            case 1:
                proxy.Latency = TimeSpan.FromMilliseconds(800);
                proxy.Mode = FaultMode.Latency;
                break;
            case 2:
                proxy.Mode = FaultMode.Reset;
                break;
            case 3:
                mesh.Inventory[0].Freeze();
                break;
            case 4:
                await mesh.Meshd.StopAsync();
                break;
            default:
                // A crash, and a new instance in its place.
                var victim = mesh.Payments[0];
                mesh.Payments.RemoveAt(0);
                victim.Kill();
                mesh.Payments.Add(await mesh.StartBackendAsync("payments"));
                break;
        }
    }

    private static async Task ClearAsync(ChaosMesh mesh, FaultProxy proxy)
    {
        proxy.Mode = FaultMode.Pass;
        try
        {
            mesh.Inventory[0].Thaw();
        }
        catch (InvalidOperationException)
        {
            // It was not frozen.
        }

        if (!mesh.Meshd.IsRunning)
        {
            await mesh.Meshd.StartAgainAsync();
        }
    }
}
