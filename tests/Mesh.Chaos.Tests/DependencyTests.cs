namespace Mesh.Chaos.Tests;

/// <summary>Dependencies that change or slow down under load: endpoint churn, a slow dependency pushing deadlines, everything at once.</summary>
public sealed class DependencyTests(ITestOutputHelper output)
{
    [Fact]
    public Task EndpointChurnEverySecond() => Scenario.WithinDeadline(async () =>
    {
        await using var mesh = await ChaosMesh.StartAsync();
        var churned = new List<(TestBackend Backend, string Id)>();
        var started = 0;
        var traffic = await Traffic.RunAsync(mesh.Gateway, callers: 6, TimeSpan.FromSeconds(14), async t =>
        {
            // Every second an instance of inventory comes and the oldest goes: one deregistered and stopped, the
            // next stopped without a word (its lease lapses), as crashes and deploys mix.
            for (var second = 1; second <= 11; second++)
            {
                await Scenario.At(t, second);
                var backend = await TestBackend.StartAsync("churn" + second);
                var id = "inventory-churn-" + second;
                using (var registered = await mesh.Meshd.RegisterAsync("inventory", id, backend.Address))
                {
                    registered.EnsureSuccessStatusCode();
                }

                churned.Add((backend, id));
                started++;
                if (churned.Count > 2)
                {
                    var (old, oldId) = churned[0];
                    churned.RemoveAt(0);
                    if (second % 2 == 0)
                    {
                        using var gone = await mesh.Meshd.DeregisterAsync("inventory", oldId);
                    }

                    await old.StopAsync();
                }
            }

            foreach (var (backend, id) in churned)
            {
                using var gone = await mesh.Meshd.DeregisterAsync("inventory", id);
                await backend.StopAsync();
            }
        });

        traffic.AssertAccounting(output, $"endpoint churn ({started} instances came and went)");
        Assert.Equal(11, started);

        // Retries on another endpoint and connection failover cover the instances that vanish between snapshot and call.
        Assert.True(traffic.SuccessRate(0, double.MaxValue) >= 0.95, traffic.Summary("whole run"));
        await mesh.WaitInstancesAsync("inventory", 2);
    });

    [Fact]
    public Task SlowDependencyPushingDeadlines() => Scenario.WithinDeadline(async () =>
    {
        await using var mesh = await ChaosMesh.StartAsync(proxyInventory: true);
        var proxy = mesh.Proxies[mesh.Inventory[1]];
        var traffic = await Traffic.RunAsync(mesh.Gateway, callers: 8, TimeSpan.FromSeconds(14), async t =>
        {
            await Scenario.At(t, 2);

            // Inventory's answers take 2.5 s through the proxy, and its policy no longer cuts attempts short: a call
            // that lands there runs until the deadline the gateway's caller set (3 s, sent in mesh-timeout) or orders' 2 s.
            proxy.Latency = TimeSpan.FromMilliseconds(2500);
            proxy.Mode = FaultMode.Latency;
            using var patched = await mesh.Meshd.PatchPolicyAsync("inventory", """{ "AttemptTimeout": null, "Timeout": "00:00:10", "OutlierDetection": { "Enabled": false } }""");
            patched.EnsureSuccessStatusCode();
        });

        traffic.AssertAccounting(output, "slow inventory endpoint (2.5 s) pushing deadlines");

        // Some calls went to the slow endpoint and ended at a deadline, explicitly; the rest went on.
        Assert.True(traffic.Failed > 0, "no call met the slow endpoint");
        Assert.True(traffic.Succeeded > traffic.Failed, traffic.Summary("whole run"));
        Assert.True(traffic.Percentile(1) < (Traffic.Deadline + Traffic.HangBound).TotalMilliseconds, traffic.Summary("max"));
    });

    [Fact]
    public Task EverythingAtOnce() => Scenario.WithinDeadline(async () =>
    {
        await using var mesh = await ChaosMesh.StartAsync(proxyInventory: true);
        var proxy = mesh.Proxies[mesh.Inventory[1]];
        var traffic = await Traffic.RunAsync(mesh.Gateway, callers: 8, TimeSpan.FromSeconds(20), async t =>
        {
            await Scenario.At(t, 2);
            mesh.Payments[0].Kill();
            proxy.Latency = TimeSpan.FromMilliseconds(300);
            proxy.Mode = FaultMode.Latency;
            await Scenario.At(t, 3);
            await mesh.Meshd.StopAsync();
            mesh.Inventory[0].Freeze();
            var churn = await TestBackend.StartAsync("churn");
            await Scenario.At(t, 5);
            proxy.Mode = FaultMode.Reset;
            await Scenario.At(t, 7);
            proxy.Mode = FaultMode.Blackhole;
            await Scenario.At(t, 9);
            mesh.Inventory[0].Thaw();
            proxy.Mode = FaultMode.Pass;
            await mesh.Meshd.StartAgainAsync();
            using (var registered = await mesh.Meshd.RegisterAsync("inventory", "inventory-churn", churn.Address))
            {
                registered.EnsureSuccessStatusCode();
            }

            await Scenario.At(t, 11);
            await churn.StopAsync();
            mesh.Payments.Add(await mesh.StartBackendAsync("payments"));
        });

        traffic.AssertAccounting(output, "everything at once");

        // Faults cleared by 12 s: the last seconds succeed again.
        Assert.True(traffic.SuccessRate(traffic.Elapsed.TotalSeconds - 4, double.MaxValue) >= 0.9, traffic.Summary("last 4 s"));
    }, TimeSpan.FromSeconds(120));
}
