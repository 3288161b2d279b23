using System.Net;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// Traffic moved from one service to another through a real meshd while a running client is under load: 0 → 20 → 100 %
/// of inventory's calls to the service inventory-next, each weight in force from the first request after the client
/// applied it, and no request failing along the way.
/// </summary>
public sealed class RouteServiceMeshdTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestBackend _inventory = null!;
    private TestBackend _next = null!;
    private string _cache = "";

    public async Task InitializeAsync()
    {
        _inventory = await TestBackend.StartAsync("inventory");
        _next = await TestBackend.StartAsync("inventory-next");
        _cache = Directory.CreateTempSubdirectory("mesh-route-services-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _inventory.DisposeAsync();
        await _next.DisposeAsync();
        Directory.Delete(_cache, recursive: true);
    }

    [Fact]
    public async Task Traffic_moves_0_20_100_percent_to_another_service_through_meshd_under_load_with_no_failed_request()
    {
        await using var meshd = await TestMeshd.StartAsync();
        (await meshd.RegisterAsync("inventory", "i1", _inventory.Address)).EnsureSuccessStatusCode();
        (await meshd.RegisterAsync("inventory-next", "n1", _next.Address)).EnsureSuccessStatusCode();
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
        await Eventually.WaitAsync(() => WeightInForce(host) == 0 && host.Catalog.TryGetService("inventory-next", out var s) && s.Destination.Endpoints.Length == 1, "the first policy");

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
        output.WriteLine($"inventory-next got {atZero}/500 at weight 0, {atTwenty}/3000 ({share:P1}) at 20, {atHundred}/500 at 100; {_inventory.Requests + _next.Requests} requests in all, {failures.Count} failed.");
        Assert.Empty(failures);
        Assert.Equal(0, atZero);
        Assert.InRange(share, 0.17, 0.23);
        Assert.Equal(500, atHundred);
    }

    private static string Split(int next) => $$"""
        { "Routes": [ { "Name": "move", "Destinations": [
            { "Weight": {{100 - next}} },
            { "Service": "inventory-next", "Weight": {{next}} } ] } ] }
        """;

    private static int WeightInForce(MeshTestHost host) =>
        host.Catalog.TryGetService("inventory", out var service) && service.Options.Routes is [{ Destinations: [_, var next] }] ? next.Weight : -1;

    /// <summary>Sends <paramref name="count"/> requests one after another; how many reached inventory-next.</summary>
    private static async Task<int> CountAsync(HttpClient client, int count)
    {
        var next = 0;
        for (var i = 0; i < count; i++)
        {
            using var response = await client.GetAsync("http://inventory/items");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            next += response.Headers.GetValues("x-backend").Single() == "inventory-next" ? 1 : 0;
        }

        return next;
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
