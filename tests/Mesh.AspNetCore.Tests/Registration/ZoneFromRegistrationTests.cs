using Mesh.AspNetCore.Registration;
using Mesh.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Registration;

/// <summary>A service that registers in a zone balances its own calls as a caller in that zone, without <c>Mesh:Zone</c>.</summary>
public sealed class ZoneFromRegistrationTests : IAsyncLifetime, IDisposable
{
    private static readonly string[] s_zones = ["a", "b", "c"];
    private readonly TempDirectory _cache = new("mesh-zone-reg-");
    private TestMeshd _meshd = null!;
    private readonly List<TestApp> _apps = [];
    private readonly Dictionary<string, int> _hits = [];

    public async Task InitializeAsync()
    {
        _meshd = await TestMeshd.StartAsync();
        (await _meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""")).Dispose();
        foreach (var zone in s_zones)
        {
            _hits[zone] = 0;
            _apps.Add(await StartAsync("inventory", zone, app => app.Run(context =>
            {
                lock (_hits)
                {
                    _hits[zone]++;
                }

                return context.Response.WriteAsync(zone);
            })));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }

        await _meshd.DisposeAsync();
    }

    public void Dispose() => _cache.Dispose();

    [Theory]
    [InlineData("b", null)]
    [InlineData("b", "c")]
    public async Task Calls_stay_in_the_zone_the_caller_registers_in_unless_Mesh_Zone_says_otherwise(string registeredZone, string? meshZone)
    {
        await using var caller = await StartAsync("orders", registeredZone, _ => { }, meshZone);
        var catalog = caller.App.Services.GetRequiredService<ServiceCatalog>();
        var http = caller.App.Services.GetRequiredService<IHttpClientFactory>().CreateClient("inventory");
        await Eventually.WaitAsync(
            () => catalog.TryGetService("inventory", out var s) && s.Destination.Endpoints.Length == s_zones.Length,
            "the caller sees the three inventory instances",
            TimeSpan.FromSeconds(15));

        var answers = new List<string>();
        for (var i = 0; i < 90; i++)
        {
            answers.Add(await http.GetStringAsync(new Uri("http://inventory/")));
        }

        var expected = meshZone ?? registeredZone;
        Assert.All(answers, a => Assert.Equal(expected, a));
        Assert.True(catalog.TryGetService("inventory", out var service));
        Assert.Equal(expected, service.Destination.Zone);
    }

    private async Task<TestApp> StartAsync(string service, string zone, Action<WebApplication> pipeline, string? meshZone = null)
    {
        var id = $"{service}-{zone}";
        var app = await TestApp.StartAsync(
            services =>
            {
                services.AddMeshServer();
                services.AddHttpClient("inventory").AddMesh();
                services.Configure<MeshOptions>(o =>
                {
                    o.ServiceName = service;
                    o.Zone = meshZone;
                    o.ControlPlane.Address = _meshd.Address.ToString();
                    o.ControlPlane.Token = TestMeshd.WorkloadToken;
                    o.ControlPlane.CacheDirectory = Path.Combine(_cache.Path, id);
                });
                services.Configure<MeshServerOptions>(o =>
                {
                    o.InstanceId = id;
                    o.Zone = zone;
                    o.DrainTime = TimeSpan.Zero;
                });
            },
            pipeline);
        await app.App.Services.GetRequiredService<MeshRegistration>().Registered.WaitAsync(TimeSpan.FromSeconds(10));
        return app;
    }
}
