using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Mesh.AspNetCore.Registration;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Contract;
using Mesh.Utilities;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Mesh.AspNetCore.Tests.Registration;

/// <summary>
/// An instance backing off through an outage of meshd (or of meshd's store) keeps its lease: its retries never wait
/// longer than a third of the lease, even when meshd's <c>Retry-After</c> asks for longer, so it renews within one lease
/// of meshd's return and never drops out of the snapshot.
/// </summary>
public sealed class LeaseBackoffTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _cache = new("mesh-leasebackoff-");

    public void Dispose() => _cache.Dispose();

    [Fact]
    public async Task An_instance_backing_off_through_a_meshd_outage_longer_than_the_back_off_cap_renews_within_one_lease_of_its_return()
    {
        // Leases shorter than the back-off cap (5 s); every jitter draw at the top of its range, the worst case for a lease.
        var ttl = TimeSpan.FromSeconds(3);
        await using var meshd = await TestMeshd.StartAsync(ttl);
        await using var server = await StartServerAsync(meshd, "inv-a");
        await server.Registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));

        await meshd.StopAsync();
        var outage = Stopwatch.StartNew();

        // Down for longer than the cap, with enough failures in a row that the back-off reached it.
        await Eventually.WaitAsync(() => Unreachable(server.Logs) >= 8 && outage.Elapsed > MeshdClient.BackoffCap, "eight failed tries over more than the back-off cap", TimeSpan.FromSeconds(30));

        // Back right after a failed try, so the wait that follows is the one that must end inside the lease.
        var failed = Unreachable(server.Logs);
        await Eventually.WaitAsync(() => Unreachable(server.Logs) > failed, "another failed try", TimeSpan.FromSeconds(15));
        await meshd.StartAgainAsync();
        var back = Stopwatch.StartNew();
        var version = (long)(await meshd.SnapshotAsync())["version"]!;
        var before = Assert.Single((await InstancesAsync(meshd)).Instances);
        var lostBefore = LeaseLost(server.Logs);

        // Renewed: its lease moves past the grace the restarted meshd gave it.
        await Eventually.WaitAsync(async () => (await InstancesAsync(meshd)).Instances.SingleOrDefault() is { } i && i.LeaseExpiresAt > before.LeaseExpiresAt, "a renewal after meshd's return", TimeSpan.FromSeconds(20));
        var renewedAfter = back.Elapsed;
        output.WriteLine($"meshd was down {outage.Elapsed - renewedAfter:g}; the instance renewed {renewedAfter.TotalMilliseconds:0} ms after meshd's return (lease {ttl.TotalSeconds} s).");

        // Never out of the registry: no lapse, no new registration, the snapshot unchanged since meshd's return.
        Assert.Equal(lostBefore, LeaseLost(server.Logs));
        Assert.Equal(version, (long)(await meshd.SnapshotAsync())["version"]!);
        Assert.Equal("inv-a", Assert.Single((await InstancesAsync(meshd)).Instances).InstanceId);
        Assert.Equal(RegistrationState.Registered, server.Registration.State);
    }

    [Fact]
    public async Task A_retry_after_longer_than_a_third_of_the_lease_is_shortened_so_the_lease_survives_an_outage_of_meshds_store()
    {
        var ttl = TimeSpan.FromSeconds(2);
        await using var etcd = new EtcdServer();
        await etcd.InitializeAsync();
        using var directory = new TempDirectory();
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(
            directory.Path,
            ("Meshd:Store", "etcd"),
            ("Meshd:Etcd:Endpoint", etcd.Endpoint.ToString()),
            ("Meshd:Etcd:Prefix", "/leasebackoff/"),
            ("Meshd:LeaseTtl", "00:00:02"),
            ("Meshd:SweepInterval", "00:00:00.100")));
        await using var server = await StartServerAsync(meshd, "inv-a");
        await server.Registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));

        // meshd cannot persist renewals: it answers 503 with Retry-After: 5, longer than the lease.
        etcd.Kill();
        var outage = Stopwatch.StartNew();
        await Eventually.WaitAsync(() => Refused(server.Logs, 503) >= 2, "two renewals refused with 503", TimeSpan.FromSeconds(30));

        // The store returns right after a refusal, so the wait that follows is the one that must end inside the lease.
        var refused = Refused(server.Logs, 503);
        await Eventually.WaitAsync(() => Refused(server.Logs, 503) > refused, "another refused renewal", TimeSpan.FromSeconds(15));
        var lostBefore = LeaseLost(server.Logs);
        await etcd.RestartAsync();
        var back = Stopwatch.StartNew();

        var version = (long)(await meshd.SnapshotAsync())["version"]!;

        // While the store was down meshd's grace kept every lease; from its return each instance has one TTL to renew.
        // Three TTLs on, an instance that missed it would have been swept (and registered again): this one is still there,
        // in the snapshot meshd served when the store came back.
        await Eventually.WaitAsync(
            async () => back.Elapsed > ttl * 3 && (await InstancesAsync(meshd)).Instances.SingleOrDefault() is { } i && i.LeaseExpiresAt > DateTimeOffset.UtcNow,
            "three leases past the store's return",
            TimeSpan.FromSeconds(30));
        output.WriteLine($"etcd was down {outage.Elapsed - back.Elapsed:g}; {LeaseLost(server.Logs) - lostBefore} lapse(s) of the lease after its return (lease {ttl.TotalSeconds} s, Retry-After 5 s).");
        Assert.Equal(lostBefore, LeaseLost(server.Logs));
        Assert.Equal(version, (long)(await meshd.SnapshotAsync())["version"]!);
        Assert.Equal("inv-a", Assert.Single((await InstancesAsync(meshd)).Instances).InstanceId);
        Assert.Contains(server.Logs.Entries, e => e.Category == MeshRegistration.LogCategory && e.Message.Contains("to wait 5 s before trying again", StringComparison.Ordinal) && e.Message.Contains("lease of 2 s", StringComparison.Ordinal));
    }

    private static int Unreachable(LogCollector logs) => logs.Entries.Count(e => e.Category == MeshRegistration.LogCategory && e.Message.Contains("unreachable for registration", StringComparison.Ordinal));

    private static int Refused(LogCollector logs, int status) => logs.Entries.Count(e => e.Category == MeshRegistration.LogCategory && e.Message.Contains($"refused the registration request with status {status}", StringComparison.Ordinal));

    private static int LeaseLost(LogCollector logs) => logs.Entries.Count(e => e.Category == MeshRegistration.LogCategory && e.Message.Contains("lapsed", StringComparison.Ordinal));

    // A service without instances or policy is not found: no instances.
    private static async Task<ServiceStatusDocument> InstancesAsync(TestMeshd meshd)
    {
        using var response = await meshd.Admin.GetAsync(new Uri("/v1/services/inventory", UriKind.Relative));
        return response.StatusCode == HttpStatusCode.NotFound
            ? new ServiceStatusDocument("inventory", null, [])
            : (await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync(ControlPlaneJson.Default.ServiceStatusDocument))!;
    }

    private async Task<Server> StartServerAsync(TestMeshd meshd, string id)
    {
        var server = new Server();
        server.App = await TestApp.StartAsync(
            services =>
            {
                services.AddLogging(b => b.AddProvider(server.Logs));
                services.AddSingleton<MeshRandom>(new HighestDraws());
                services.AddMeshServer();
                services.Configure<MeshOptions>(o =>
                {
                    o.ServiceName = "inventory";
                    o.ControlPlane.Address = meshd.Address.ToString();
                    o.ControlPlane.Token = TestMeshd.WorkloadToken;
                    o.ControlPlane.CacheDirectory = Path.Combine(_cache.Path, id);
                });
                services.Configure<MeshServerOptions>(o =>
                {
                    o.InstanceId = id;
                    o.DrainTime = TimeSpan.Zero;
                });
            },
            app => app.Run(context => context.Response.WriteAsync(id)));
        server.Registration = server.App.App.Services.GetRequiredService<MeshRegistration>();
        return server;
    }

    /// <summary>Every draw at the top of its range: each jittered back-off as long as it can be.</summary>
    private sealed class HighestDraws : MeshRandom
    {
        public override int Next(int maxExclusive) => maxExclusive - 1;
    }

    private sealed class Server : IAsyncDisposable
    {
        public TestApp App { get; set; } = null!;

        public MeshRegistration Registration { get; set; } = null!;

        public LogCollector Logs { get; } = new();

        public ValueTask DisposeAsync() => App.DisposeAsync();
    }
}
