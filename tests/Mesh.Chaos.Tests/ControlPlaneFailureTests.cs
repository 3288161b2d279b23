namespace Mesh.Chaos.Tests;

/// <summary>The control plane away under load: meshd stopped for a while, etcd stopped under meshd.</summary>
public sealed class ControlPlaneFailureTests(ITestOutputHelper output)
{
    [Fact]
    public Task MeshdKilledThenStartedAgain() => Scenario.WithinDeadline(async () =>
    {
        await using var mesh = await ChaosMesh.StartWithMeshdProcessAsync();
        var meshd = mesh.MeshdProcess!;
        var traffic = await Traffic.RunAsync(mesh.Gateway, callers: 6, TimeSpan.FromSeconds(16), async t =>
        {
            await Scenario.At(t, 2);
            meshd.Kill();
            await Scenario.At(t, 8);
            await meshd.StartAgainAsync();
        });

        traffic.AssertAccounting(output, "meshd kill -9, back after 6 s");
        Assert.NotEqual(0, meshd.Pid);

        // The services keep routing with what they hold; meshd, back on its data, learns every instance again.
        Assert.True(traffic.SuccessRate(0, double.MaxValue) >= 0.99, traffic.Summary("whole run"));
        await mesh.WaitInstancesAsync("inventory", 2);
        await mesh.WaitInstancesAsync("payments", 2);
    }, TimeSpan.FromSeconds(120));

    [Fact]
    public Task MeshdStoppedForAWhileThenStartedAgain() => Scenario.WithinDeadline(async () =>
    {
        await using var mesh = await ChaosMesh.StartAsync();
        var outage = Scale.MeshdOutage;
        var traffic = await Traffic.RunAsync(mesh.Gateway, callers: 6, outage + TimeSpan.FromSeconds(8), async t =>
        {
            await Scenario.At(t, 2);
            await mesh.Meshd.StopAsync();
            await Scenario.At(t, 2 + outage.TotalSeconds);
            await mesh.Meshd.StartAgainAsync();
        });

        traffic.AssertAccounting(output, $"meshd stopped {outage.TotalSeconds:F0} s");

        // Static stability: the services route with the snapshot they hold while meshd is away, so nothing fails.
        Assert.True(traffic.SuccessRate(0, double.MaxValue) >= 0.99, traffic.Summary("whole run"));

        // Back, meshd learns every instance again from the renewals (they register again when it has forgotten them).
        await mesh.WaitInstancesAsync("inventory", 2);
        await mesh.WaitInstancesAsync("payments", 2);
    }, TimeSpan.FromSeconds(90) + (Scale.MeshdOutage * 2));

    [Fact]
    public Task EtcdStoppedUnderMeshd() => Scenario.WithinDeadline(async () =>
    {
        using var etcd = await EtcdServer.StartAsync(new EtcdServerOptions());
        await using var mesh = await ChaosMesh.StartAsync(meshdSettings: [("Meshd:Store", "etcd"), ("Meshd:Etcd:Endpoint", etcd.Endpoint.ToString()), ("Meshd:Etcd:Prefix", "/chaos/")]);
        var traffic = await Traffic.RunAsync(mesh.Gateway, callers: 6, TimeSpan.FromSeconds(26), async t =>
        {
            // Away longer than the leases (8 s): no renewal can be written meanwhile.
            await Scenario.At(t, 2);
            etcd.Kill();
            await Scenario.At(t, 14);
            await etcd.RestartAsync();
        });

        traffic.AssertAccounting(output, "etcd stopped 12 s under meshd");

        // While etcd is away meshd keeps serving its last snapshot and keeps lapsed instances (it cannot write their
        // removal): the data plane is untouched. At etcd's return every lease gets one lease from then before a lapse
        // counts, so the instances renew before any is swept and no service loses its instances: nothing fails, before,
        // during or after the outage.
        Assert.True(traffic.SuccessRate(0, double.MaxValue) >= 0.99, traffic.Summary("whole run"));
        Assert.True(traffic.SuccessRate(1, 14) >= 0.99, traffic.Summary("while etcd was away"));
        Assert.True(traffic.SuccessRate(14, double.MaxValue) >= 0.99, traffic.Summary("after etcd's return"));
        Assert.Equal(2, await mesh.InstancesAsync("payments"));
        await mesh.WaitInstancesAsync("inventory", 2);
        using var write = await mesh.Meshd.PutPolicyAsync("inventory", ChaosMesh.BackendPolicy);
        Assert.True(write.IsSuccessStatusCode, $"a policy write after etcd's return answered {(int)write.StatusCode}");
    }, TimeSpan.FromSeconds(150));
}
