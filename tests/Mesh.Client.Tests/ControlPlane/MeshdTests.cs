using System.Diagnostics;
using Mesh.Balancing;
using Mesh.ControlPlane;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.ControlPlane;

/// <summary>Clients against a real meshd on loopback, with real backends: policy changes, lapsed leases, and meshd outages.</summary>
public sealed class MeshdTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestBackend[] _backends = [];
    private string _cache = "";

    public async Task InitializeAsync()
    {
        _backends = await TestBackend.StartManyAsync(3);
        _cache = Directory.CreateTempSubdirectory("mesh-cp-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _backends.DisposeAllAsync();
        Directory.Delete(_cache, recursive: true);
    }

    [Fact]
    public async Task A_policy_change_is_in_effect_in_a_running_client_within_one_second()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await RegisterAsync(meshd, _backends[0], _backends[1]);
        (await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RingHash", "RingHash": { "Header": "x-key" } }""")).Dispose();
        using var host = MeshTestHost.Create(Settings(meshd));
        var client = host.Client;

        // Ring hash: one key, one backend, every time.
        var pinned = await BackendOfAsync(client, "k1");
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(pinned, await BackendOfAsync(client, "k1"));
        }

        // Round robin from the moment the change arrives: the same key reaches the other backend within two requests.
        using var written = await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");
        var clock = Stopwatch.StartNew();
        while (await BackendOfAsync(client, "k1") == pinned)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "the new balancer was not in effect after 5 s");
        }

        var propagation = clock.Elapsed;
        output.WriteLine($"Policy change (RingHash -> RoundRobin) in effect {propagation.TotalMilliseconds:0.0} ms after meshd answered the write.");
        Assert.True(propagation < TimeSpan.FromSeconds(1), $"the change took {propagation.TotalMilliseconds:0} ms");
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        Assert.Equal(LoadBalancerNames.RoundRobin, service.Options.LoadBalancer);

        // A raised retry limit, too: a backend that fails once is retried once MaxAttempts goes from 1 to 2.
        (await meshd.PatchPolicyAsync("inventory", """{ "Retry": { "MaxAttempts": 1 } }""")).Dispose();
        await Eventually.WaitAsync(() => host.Catalog.TryGetService("inventory", out var s) && s.Options.Retry.MaxAttempts == 1, "MaxAttempts 1");
        foreach (var backend in _backends[..2])
        {
            backend.Script(new TestBackend.Reply(System.Net.HttpStatusCode.ServiceUnavailable));
        }

        using (var failed = await client.GetAsync("http://inventory/items"))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        }

        using var raised = await meshd.PatchPolicyAsync("inventory", """{ "Retry": { "MaxAttempts": 2 } }""");
        clock.Restart();
        await Eventually.WaitAsync(() => host.Catalog.TryGetService("inventory", out var s) && s.Options.Retry.MaxAttempts == 2, "MaxAttempts 2", TimeSpan.FromSeconds(5));
        using (var retried = await client.GetAsync("http://inventory/items"))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, retried.StatusCode);
        }

        var retryPropagation = clock.Elapsed;

        output.WriteLine($"Policy change (Retry:MaxAttempts 1 -> 2) in effect {retryPropagation.TotalMilliseconds:0.0} ms after meshd answered the write.");
        Assert.True(retryPropagation < TimeSpan.FromSeconds(1), $"the change took {retryPropagation.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task An_instance_killed_without_deregistering_leaves_the_client_after_its_ttl_and_no_request_fails()
    {
        var ttl = TimeSpan.FromSeconds(2);
        await using var meshd = await TestMeshd.StartAsync(ttl);
        await RegisterAsync(meshd, _backends[0], _backends[1]);
        (await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""")).Dispose();
        using var host = MeshTestHost.Create(Settings(meshd));
        var client = host.Client;
        using var stop = new CancellationTokenSource();
        var survivor = RenewLoopAsync(meshd, "b1", _backends[1], stop.Token);
        var victim = new CancellationTokenSource();
        var victimRenewals = RenewLoopAsync(meshd, "b0", _backends[0], victim.Token);
        var failures = new List<Exception>();
        var load = LoadAsync(client, failures, stop.Token);
        await Eventually.WaitAsync(() => _backends[0].Requests > 20 && _backends[1].Requests > 20, "traffic on both instances");

        // Killed: no more renewals, no deregistration, the port refuses connections.
        await victim.CancelAsync();
        await victimRenewals;
        var killed = Stopwatch.StartNew();
        await _backends[0].StopAsync();
        await Eventually.WaitAsync(() => host.Catalog.TryGetService("inventory", out var s) && s.Destination.Endpoints.Length == 1, "the lapsed instance to leave the client", TimeSpan.FromSeconds(10));
        var gone = killed.Elapsed;
        var sentBefore = _backends[1].Requests;
        await Eventually.WaitAsync(() => _backends[1].Requests > sentBefore + 50, "traffic after the instance left");
        await stop.CancelAsync();
        await Task.WhenAll(load, survivor);
        victim.Dispose();

        output.WriteLine($"Killed instance left the client {gone.TotalMilliseconds:0} ms after its last renewal (TTL {ttl.TotalSeconds:0} s).");
        Assert.Empty(failures);
        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        Assert.Equal(_backends[1].Address, Assert.Single(service.Destination.Endpoints).Endpoint.Address);
        // The last renewal came up to a renewal interval before the kill, so the lease may lapse that much sooner.
        Assert.InRange(gone, ttl * 0.3, ttl + TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task With_meshd_stopped_for_30_seconds_under_load_no_request_fails_a_new_client_starts_from_its_cache_and_all_resync()
    {
        // Leases outlive the outage: meshd does not yet give registered instances a grace period after it restarts.
        await using var meshd = await TestMeshd.StartAsync(TimeSpan.FromSeconds(60));
        await RegisterAsync(meshd, _backends[0], _backends[1]);
        (await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""")).Dispose();
        using var first = MeshTestHost.Create(Settings(meshd));
        var controlPlane = first.Services.GetRequiredService<ControlPlaneWatcher>();
        using var stop = new CancellationTokenSource();
        var failures = new List<Exception>();
        var load = LoadAsync(first.Client, failures, stop.Token);
        await Eventually.WaitAsync(() => _backends[0].Requests > 20 && _backends[1].Requests > 20, "traffic before the outage");

        // meshd refuses new connections from the start of its stop; the stop itself may wait for parked watches.
        var outage = Stopwatch.StartNew();
        var stopping = meshd.StopAsync();

        // A client started during the outage routes from the cache the first one wrote.
        var settings = Settings(meshd);
        using var second = MeshTestHost.Create(settings);
        var secondLoad = LoadAsync(second.Client, failures, stop.Token);
        var before = (_backends[0].Requests, _backends[1].Requests);
        await Eventually.WaitAsync(() => _backends[0].Requests > before.Item1 + 100 && _backends[1].Requests > before.Item2 + 100, "traffic during the outage");
        Assert.True(second.Catalog.TryGetService("inventory", out var cached));
        Assert.Equal(2, cached.Destination.Endpoints.Length);

        // The rest of the 30 s outage, under load.
        var rest = TimeSpan.FromSeconds(30) - outage.Elapsed;
        if (rest > TimeSpan.Zero)
        {
            await Task.Delay(rest);
        }

        await stopping;
        var servedDuringOutage = _backends[0].Requests + _backends[1].Requests - before.Item1 - before.Item2;
        await meshd.StartAgainAsync();

        // Both resync: a third instance registered after the restart reaches both clients.
        await RegisterAsync(meshd, _backends[2]);
        var resync = Stopwatch.StartNew();
        await Eventually.WaitAsync(
            () => first.Catalog.TryGetService("inventory", out var a) && a.Destination.Endpoints.Length == 3 && second.Catalog.TryGetService("inventory", out var b) && b.Destination.Endpoints.Length == 3,
            "both clients to see the instance registered after the restart",
            TimeSpan.FromSeconds(10));
        var resynced = resync.Elapsed;
        await Eventually.WaitAsync(() => _backends[2].Requests > 20, "traffic on the new instance");
        await stop.CancelAsync();
        await Task.WhenAll(load, secondLoad);

        output.WriteLine($"{servedDuringOutage} requests served during the {outage.Elapsed.TotalSeconds:0} s outage; both clients resynced {resynced.TotalMilliseconds:0} ms after a registration following the restart.");
        Assert.Empty(failures);
        Assert.Equal(0, controlPlane.Rejected);
        Assert.Contains(first.Logs.Entries, e => e.Message.Contains("unreachable", StringComparison.Ordinal) && e.Message.Contains("routing goes on", StringComparison.Ordinal));
        Assert.Contains(first.Logs.Entries, e => e.Message.Contains("reached again", StringComparison.Ordinal));
        Assert.Contains(second.Logs.Entries, e => e.Message.Contains("loaded from the cache", StringComparison.Ordinal));
        Assert.DoesNotContain(first.Logs.Entries.Concat(second.Logs.Entries), e => e.Message.Contains(TestMeshd.WorkloadToken, StringComparison.Ordinal));
    }

    private Dictionary<string, string?> Settings(TestMeshd meshd) => new()
    {
        ["Mesh:ControlPlane:Address"] = meshd.Address.ToString(),
        ["Mesh:ControlPlane:Token"] = TestMeshd.WorkloadToken,
        ["Mesh:ControlPlane:CacheDirectory"] = _cache,
        ["Mesh:ControlPlane:WaitTime"] = "00:00:30",
    };

    private static async Task RegisterAsync(TestMeshd meshd, params TestBackend[] backends)
    {
        foreach (var backend in backends)
        {
            (await meshd.RegisterAsync("inventory", backend.Name, backend.Address)).Dispose();
        }
    }

    /// <summary>Renews a lease every 300 ms, registering again when meshd forgot it, until stopped; meshd being down is no error.</summary>
    private static async Task RenewLoopAsync(TestMeshd meshd, string id, TestBackend backend, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(300));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                if (!await meshd.RenewAsync("inventory", id))
                {
                    (await meshd.RegisterAsync("inventory", id, backend.Address)).Dispose();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Two callers, each sending a request every few milliseconds until stopped; failures are collected.</summary>
    private static Task LoadAsync(HttpClient client, List<Exception> failures, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync("http://inventory/items", CancellationToken.None);
                    response.EnsureSuccessStatusCode();
                }
                catch (HttpRequestException ex)
                {
                    lock (failures)
                    {
                        failures.Add(ex);
                    }
                }

                try
                {
                    // Paced, so two cores also serve the backends and meshd.
                    await Task.Delay(3, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }));

    private static async Task<string> BackendOfAsync(HttpClient client, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://inventory/items");
        request.Headers.Add("x-key", key);
        using var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await TestBackend.ReadEchoAsync(response)).Backend;
    }
}
