using System.Diagnostics;
using System.Net;

namespace Mesh.Client.Tests.Resilience;

/// <summary>Outlier detection switched off through meshd while an endpoint is ejected: the endpoint takes traffic again.</summary>
public sealed class OutlierDetectionMeshdTests : IAsyncLifetime
{
    private TestBackend[] _backends = [];
    private string _cache = "";

    public async Task InitializeAsync()
    {
        _backends = await TestBackend.StartManyAsync(2);
        _cache = Directory.CreateTempSubdirectory("mesh-outliers-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _backends.DisposeAllAsync();
        Directory.Delete(_cache, recursive: true);
    }

    [Fact]
    public async Task Switching_outlier_detection_off_in_meshd_while_an_endpoint_is_ejected_gives_it_its_share_again()
    {
        await using var meshd = await TestMeshd.StartAsync();
        (await meshd.RegisterAsync("back", "back1", _backends[0].Address)).EnsureSuccessStatusCode();
        (await meshd.RegisterAsync("back", "back2", _backends[1].Address)).EnsureSuccessStatusCode();
        (await meshd.PutPolicyAsync("back", """
            { "LoadBalancer": "RoundRobin", "Retry": { "Enabled": false }, "CircuitBreaker": { "Enabled": false },
              "OutlierDetection": { "ConsecutiveFailures": 3, "BaseEjectionTime": "00:00:01" } }
            """)).EnsureSuccessStatusCode();
        using var host = MeshTestHost.Create(new Dictionary<string, string?>
        {
            ["Mesh:ControlPlane:Address"] = meshd.Address.ToString(),
            ["Mesh:ControlPlane:Token"] = TestMeshd.WorkloadToken,
            ["Mesh:ControlPlane:CacheDirectory"] = _cache,
        });
        await host.StartAsync();
        var client = host.Client;
        await Eventually.WaitAsync(() => host.Catalog.TryGetService("back", out var s) && s.Destination.Endpoints.Length == 2, "both instances in the client");

        _backends[0].Status = HttpStatusCode.InternalServerError;
        for (var i = 0; i < 100 && !Ejected(host); i++)
        {
            using var response = await client.GetAsync("http://back/items");
        }

        Assert.True(Ejected(host), "back1 was ejected");
        var ejectedAt = Stopwatch.StartNew();
        _backends[0].Status = HttpStatusCode.OK;
        (await meshd.PatchPolicyAsync("back", """{ "OutlierDetection": { "Enabled": false } }""")).EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => host.Catalog.TryGetService("back", out var s) && !s.Options.OutlierDetection.Enabled, "outlier detection off in the client");

        Assert.Equal(100, await ShareOfBack1Async(client, 200));

        // Past the ejection it had: still its share, and nothing says it is ejected.
        await Eventually.WaitAsync(() => ejectedAt.Elapsed > TimeSpan.FromSeconds(1.5), "the ejection's time is over");
        Assert.Equal(100, await ShareOfBack1Async(client, 200));
        Assert.False(Ejected(host));
    }

    private static bool Ejected(MeshTestHost host) =>
        host.Catalog.TryGetService("back", out var service) && service.Destination.EjectedCount() > 0;

    private async Task<long> ShareOfBack1Async(HttpClient client, int count)
    {
        var before = _backends[0].Requests;
        for (var i = 0; i < count; i++)
        {
            using var response = await client.GetAsync("http://back/items");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        return _backends[0].Requests - before;
    }
}
