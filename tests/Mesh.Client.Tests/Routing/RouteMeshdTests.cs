using System.Net;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// A canary moved through a real meshd while a running client is under load: 0 → 20 → 100 % to v2, each weight in force
/// from the first request after the client applied it, and no request failing along the way.
/// </summary>
public sealed class RouteMeshdTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestBackend _v1 = null!;
    private TestBackend _v2 = null!;
    private string _cache = "";

    public async Task InitializeAsync()
    {
        _v1 = await TestBackend.StartAsync("v1");
        _v2 = await TestBackend.StartAsync("v2");
        _cache = Directory.CreateTempSubdirectory("mesh-routes-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _v1.DisposeAsync();
        await _v2.DisposeAsync();
        Directory.Delete(_cache, recursive: true);
    }

    [Fact]
    public async Task A_canary_moves_0_20_100_percent_through_meshd_under_load_with_no_failed_request()
    {
        await using var meshd = await TestMeshd.StartAsync();
        (await meshd.RegisterAsync("inventory", "i1", _v1.Address, "v1")).EnsureSuccessStatusCode();
        (await meshd.RegisterAsync("inventory", "i2", _v2.Address, "v2")).EnsureSuccessStatusCode();
        (await meshd.PutPolicyAsync("inventory", Split(0))).EnsureSuccessStatusCode();
        using var host = MeshTestHost.Create(new Dictionary<string, string?>
        {
            ["Mesh:ControlPlane:Address"] = meshd.Address.ToString(),
            ["Mesh:ControlPlane:Token"] = TestMeshd.WorkloadToken,
            ["Mesh:ControlPlane:CacheDirectory"] = _cache,
            ["Mesh:ControlPlane:WaitTime"] = "00:00:30",
        });
        await host.StartAsync();
        var client = host.Client;
        await Eventually.WaitAsync(() => WeightInForce(host) == 0 && host.Catalog.TryGetService("inventory", out var s) && s.Destination.Endpoints.Length == 2, "the first policy");

        using var stop = new CancellationTokenSource();
        var failures = new List<string>();
        var load = Task.WhenAll(Enumerable.Range(0, 3).Select(_ => LoadAsync(client, failures, stop.Token)));

        var atZero = await CountAsync(client, 500);
        (await meshd.PutPolicyAsync("inventory", Split(20))).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => WeightInForce(host) == 20, "weight 20 in the client");
        var atTwenty = await CountAsync(client, 3000);
        (await meshd.PutPolicyAsync("inventory", Split(100))).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => WeightInForce(host) == 100, "weight 100 in the client");
        var atHundred = await CountAsync(client, 500);

        await stop.CancelAsync();
        await load;
        var share = atTwenty / 3000.0;
        output.WriteLine($"v2 got {atZero}/500 at weight 0, {atTwenty}/3000 ({share:P1}) at 20, {atHundred}/500 at 100; {_v1.Requests + _v2.Requests} requests in all, {failures.Count} failed.");
        Assert.Empty(failures);
        Assert.Equal(0, atZero);
        Assert.InRange(share, 0.17, 0.23);
        Assert.Equal(500, atHundred);
    }

    private static string Split(int v2) => $$"""
        { "Routes": [ { "Name": "canary", "Destinations": [
            { "Labels": { "version": "v1" }, "Weight": {{100 - v2}} },
            { "Labels": { "version": "v2" }, "Weight": {{v2}} } ] } ] }
        """;

    private static int WeightInForce(MeshTestHost host) =>
        host.Catalog.TryGetService("inventory", out var service) && service.Options.Routes is [{ Destinations: [_, var v2] }] ? v2.Weight : -1;

    /// <summary>Sends <paramref name="count"/> requests one after another; how many reached v2.</summary>
    private static async Task<int> CountAsync(HttpClient client, int count)
    {
        var v2 = 0;
        for (var i = 0; i < count; i++)
        {
            using var response = await client.GetAsync("http://inventory/items");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            v2 += response.Headers.GetValues("x-backend").Single() == "v2" ? 1 : 0;
        }

        return v2;
    }

    private static async Task LoadAsync(HttpClient client, List<string> failures, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var response = await client.GetAsync("http://inventory/load", CancellationToken.None);
                if (!response.IsSuccessStatusCode)
                {
                    lock (failures)
                    {
                        failures.Add($"status {(int)response.StatusCode}");
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or Mesh.Discovery.MeshEndpointUnavailableException)
            {
                lock (failures)
                {
                    failures.Add(ex.Message);
                }
            }
        }
    }
}
