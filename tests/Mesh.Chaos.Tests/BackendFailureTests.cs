namespace Mesh.Chaos.Tests;

/// <summary>Backends that crash or freeze under load: kill -9, SIGSTOP then SIGCONT, an endpoint blackholed by the proxy.</summary>
public sealed class BackendFailureTests(ITestOutputHelper output)
{
    [Fact]
    public Task Kill9OfAnInventoryInstance() => Scenario.WithinDeadline(async () =>
    {
        await using var mesh = await ChaosMesh.StartAsync();
        var victim = mesh.Inventory[0];
        var traffic = await Traffic.RunAsync(mesh.Gateway, callers: 8, Scale.Fault(12), async t =>
        {
            await Eventually.WaitAsync(() => t.Elapsed > TimeSpan.FromSeconds(3), "3 s of traffic", TimeSpan.FromSeconds(30));
            victim.Kill();
        });

        traffic.AssertAccounting(output, "kill -9 inventory");
        Assert.True(victim.HasExited);

        // The survivor carries the load once the dead instance's lease lapses (8 s) or outlier detection ejects it.
        Assert.True(traffic.SuccessRate(traffic.Elapsed.TotalSeconds - 3, double.MaxValue) >= 0.95, traffic.Summary("last 3 s"));
        await mesh.WaitInstancesAsync("inventory", 1);
    });

    [Fact]
    public Task SigstopThenSigcontOfAnInventoryInstance() => Scenario.WithinDeadline(async () =>
    {
        await using var mesh = await ChaosMesh.StartAsync();
        var victim = mesh.Inventory[0];
        var traffic = await Traffic.RunAsync(mesh.Gateway, callers: 8, Scale.Fault(15), async t =>
        {
            await Eventually.WaitAsync(() => t.Elapsed > TimeSpan.FromSeconds(2), "2 s of traffic", TimeSpan.FromSeconds(30));
            victim.Freeze();
            await Eventually.WaitAsync(() => t.Elapsed > TimeSpan.FromSeconds(8), "6 s frozen", TimeSpan.FromSeconds(30));
            victim.Thaw();
        });

        traffic.AssertAccounting(output, "SIGSTOP/SIGCONT inventory");
        Assert.False(victim.HasExited);
        Assert.True(traffic.SuccessRate(traffic.Elapsed.TotalSeconds - 3, double.MaxValue) >= 0.95, traffic.Summary("last 3 s"));

        // Thawed, it renews its lease (registering again if meshd dropped it) and is back in the set.
        await mesh.WaitInstancesAsync("inventory", 2);
    });

    [Fact]
    public Task BlackholedInventoryEndpoint() => Scenario.WithinDeadline(async () =>
    {
        await using var mesh = await ChaosMesh.StartAsync(proxyInventory: true);
        var proxy = mesh.Proxies[mesh.Inventory[1]];
        var traffic = await Traffic.RunAsync(mesh.Gateway, callers: 8, Scale.Fault(12), async t =>
        {
            await Eventually.WaitAsync(() => t.Elapsed > TimeSpan.FromSeconds(2), "2 s of traffic", TimeSpan.FromSeconds(30));
            proxy.Mode = FaultMode.Blackhole;
        });

        traffic.AssertAccounting(output, "blackholed inventory endpoint");
        output.WriteLine($"proxy: accepted {proxy.Accepted}, open {proxy.Open}, rejected {proxy.Rejected}");

        // Its lease is renewed (the instance is alive), so only the attempt timeout, retries on the other endpoint and
        // outlier ejection keep calls off it: the last seconds succeed.
        Assert.True(traffic.SuccessRate(traffic.Elapsed.TotalSeconds - 4, double.MaxValue) >= 0.95, traffic.Summary("last 4 s"));
        Assert.Equal(2, await mesh.InstancesAsync("inventory"));
    });
}
