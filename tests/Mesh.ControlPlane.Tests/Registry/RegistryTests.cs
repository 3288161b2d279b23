using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;

namespace Meshd.Tests.Registry;

public sealed class RegistryTests
{
    [Fact]
    public async Task A_registered_instance_is_in_the_snapshot_until_it_deregisters()
    {
        await using var meshd = await TestMeshd.StartAsync();

        var registered = await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        Assert.Equal(HttpStatusCode.OK, registered.StatusCode);
        var lease = (await registered.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("inv-1", (string?)lease["instanceId"]);
        Assert.Equal("00:00:10", (string?)lease["ttl"]);

        var snapshot = await meshd.SnapshotAsync();
        var instance = snapshot["services"]!["inventory"]!["instances"]![0]!;
        Assert.Equal("http://127.0.0.1:5001", (string?)instance["address"]);
        Assert.Equal("a", (string?)instance["zone"]);
        Assert.Equal("v1", (string?)instance["labels"]!["version"]);
        Assert.Equal(1, (int)instance["weight"]!);

        Assert.Equal(HttpStatusCode.NoContent, (await meshd.Workload.DeleteAsync("/v1/services/inventory/instances/inv-1")).StatusCode);
        Assert.Null((await meshd.SnapshotAsync())["services"]!["inventory"]);
        Assert.Equal(HttpStatusCode.NoContent, (await meshd.Workload.DeleteAsync("/v1/services/inventory/instances/inv-1")).StatusCode);
    }

    [Fact]
    public async Task A_renewal_keeps_the_instance_and_changes_no_version()
    {
        using var directory = new TempDirectory();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path, ("Meshd:LeaseTtl", "00:00:01")), TestMeshd.Clock(time));
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        var version = (long)(await meshd.SnapshotAsync())["version"]!;

        // Renewed every 300 ms for three TTLs, swept after each: never removed, and no new snapshot version.
        for (var step = 0; step < 10; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(300));
            var renewed = await meshd.Workload.PostAsync("/v1/services/inventory/instances/inv-1/renew", null);
            Assert.Equal(HttpStatusCode.OK, renewed.StatusCode);
            Assert.Equal(0, await meshd.Registry.SweepAsync(CancellationToken.None));
        }

        var snapshot = await meshd.SnapshotAsync();
        Assert.Equal(version, (long)snapshot["version"]!);
        Assert.NotNull(snapshot["services"]!["inventory"]);
    }

    [Fact]
    public async Task An_instance_whose_lease_lapses_is_removed_and_its_renewal_answers_404()
    {
        await using var meshd = await TestMeshd.StartAsync(("Meshd:LeaseTtl", "00:00:00.500"), ("Meshd:SweepInterval", "00:00:00.100"));
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        await meshd.RegisterAsync("inventory", "inv-2", "http://127.0.0.1:5002");

        var started = DateTime.UtcNow;
        await Eventually.WaitAsync(async () => (await meshd.SnapshotAsync())["services"]!["inventory"] is null, "both leases lapse", TimeSpan.FromSeconds(5));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(3));

        var renewed = await meshd.Workload.PostAsync("/v1/services/inventory/instances/inv-1/renew", null);
        Assert.Equal(HttpStatusCode.NotFound, renewed.StatusCode);
        Assert.Equal("application/problem+json", renewed.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Registering_again_with_the_same_body_is_no_change_and_a_new_address_is()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        var version = (long)(await meshd.SnapshotAsync())["version"]!;

        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        Assert.Equal(version, (long)(await meshd.SnapshotAsync())["version"]!);

        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:6001");
        var snapshot = await meshd.SnapshotAsync();
        Assert.True((long)snapshot["version"]! > version);
        Assert.Equal("http://127.0.0.1:6001", (string?)snapshot["services"]!["inventory"]!["instances"]![0]!["address"]);
    }
}
