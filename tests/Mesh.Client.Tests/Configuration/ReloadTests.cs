using System.Text.Json;
using Mesh.Balancing;
using Mesh.Pipeline;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.Configuration;

/// <summary>Changing Mesh:Services takes effect without restart and without failing requests in flight.</summary>
public sealed class ReloadTests : IAsyncLifetime
{
    private TestBackend[] _backends = [];
    private string _directory = "";

    public async Task InitializeAsync()
    {
        _backends = await TestBackend.StartManyAsync(3);
        _directory = Directory.CreateTempSubdirectory("mesh-reload-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _backends.DisposeAllAsync();

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task An_edited_appsettings_file_adds_and_removes_endpoints_with_no_failed_request()
    {
        var path = Path.Combine(_directory, "appsettings.json");
        WriteSettings(path, _backends[0], _backends[1]);
        var configuration = new ConfigurationBuilder().AddJsonFile(path, optional: false, reloadOnChange: true).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddMesh();
        services.AddHttpClient("meshed").AddMesh();
        await using var provider = services.BuildServiceProvider();
        var catalog = provider.GetRequiredService<ServiceCatalog>();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("meshed");

        // Callers run throughout; each request is tagged with the configuration version in force when it was sent.
        using var stop = new CancellationTokenSource();
        var failures = 0;
        long sent = 0;
        var callers = Enumerable.Range(0, 8).Select(async _ =>
        {
            for (var i = 0; i < 200_000 && !stop.IsCancellationRequested; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "http://inventory/items");
                request.Headers.Add(TestBackend.TagHeader, catalog.Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
                try
                {
                    using var response = await client.SendAsync(request);
                    response.EnsureSuccessStatusCode();
                    Interlocked.Increment(ref sent);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }).ToList();

        await Eventually.WaitAsync(() => _backends[0].Requests > 50 && _backends[1].Requests > 50, "traffic on the first two backends");
        var versionBefore = catalog.Version;

        WriteSettings(path, _backends[1], _backends[2]);
        await Eventually.WaitAsync(() => catalog.Version > versionBefore, "the edited file to be applied");
        var switchedAt = Interlocked.Read(ref sent);
        await Eventually.WaitAsync(() => Interlocked.Read(ref sent) > switchedAt + 500, "traffic after the change");
        await stop.CancelAsync();
        await Task.WhenAll(callers);

        Assert.Equal(0, failures);
        var newVersion = catalog.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(newVersion, _backends[2].Tags);
        Assert.DoesNotContain(newVersion, _backends[0].Tags);
        Assert.Equal(0, catalog.RejectedReloads);
    }

    [Fact]
    public async Task A_changed_balancer_applies_to_the_next_request()
    {
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.PeakEwma, _backends));
        var client = host.Client;
        await Load.GetOkAsync(client, "http://inventory/");

        host.Configuration.Replace(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends));
        var before = _backends.Select(b => b.Requests).ToArray();
        for (var i = 0; i < 300; i++)
        {
            await Load.GetOkAsync(client, "http://inventory/");
        }

        Assert.True(host.Catalog.TryGetService("inventory", out var service));
        Assert.IsType<RoundRobinBalancer>(service.Destination.Balancer);
        Assert.All(_backends.Select((b, i) => b.Requests - before[i]), c => Assert.Equal(100, c));
    }

    [Fact]
    public async Task What_the_balancer_learned_of_an_endpoint_survives_a_reload()
    {
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.PeakEwma, _backends));
        await Load.GetOkAsync(host.Client, "http://inventory/");
        Assert.True(host.Catalog.TryGetService("inventory", out var before));

        host.Configuration.Replace(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.LeastRequest, _backends));

        Assert.True(host.Catalog.TryGetService("inventory", out var after));
        Assert.NotSame(before, after);
        Assert.Equal(before.Destination.Endpoints.Select(e => e.Load), after.Destination.Endpoints.Select(e => e.Load));
    }

    [Fact]
    public async Task Resilience_settings_reload_without_restart()
    {
        _backends[0].Status = System.Net.HttpStatusCode.ServiceUnavailable;
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends[..1]);
        config["Mesh:Services:inventory:CircuitBreaker:Enabled"] = "false";
        config["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false";
        using var host = MeshTestHost.Create(config);
        var client = host.Client;
        using (var first = await client.GetAsync("http://inventory/"))
        {
            Assert.Equal(3, _backends[0].Requests);
        }

        config["Mesh:Services:inventory:Retry:MaxAttempts"] = "5";
        host.Configuration.Replace(config);
        using (var second = await client.GetAsync("http://inventory/"))
        {
            Assert.Equal(3 + 5, _backends[0].Requests);
        }

        config["Mesh:Services:inventory:Retry:Enabled"] = "false";
        host.Configuration.Replace(config);
        using (var third = await client.GetAsync("http://inventory/"))
        {
            Assert.Equal(3 + 5 + 1, _backends[0].Requests);
        }
    }

    [Fact]
    public void A_reload_that_leaves_a_services_resilience_settings_alone_keeps_its_policy()
    {
        var config = MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, _backends[..2]);
        using var host = MeshTestHost.Create(config);
        Assert.True(host.Catalog.TryGetService("inventory", out var before));

        host.Configuration.Replace(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.PeakEwma, _backends));
        Assert.True(host.Catalog.TryGetService("inventory", out var after));
        Assert.Same(before.Policy, after.Policy);

        config["Mesh:Services:inventory:Timeout"] = "00:00:03";
        host.Configuration.Replace(config);
        Assert.True(host.Catalog.TryGetService("inventory", out var changed));
        Assert.NotSame(after.Policy, changed.Policy);
        Assert.Equal(TimeSpan.FromSeconds(3), changed.Policy.Timeout);
    }

    private static void WriteSettings(string path, params TestBackend[] backends)
    {
        var settings = new
        {
            Mesh = new
            {
                Services = new Dictionary<string, object>
                {
                    ["inventory"] = new { Endpoints = backends.Select(b => b.Address.ToString()).ToArray(), LoadBalancer = "RoundRobin" },
                },
            },
        };

        // Write and rename, as deployment tools do, so the watcher never reads half a file.
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(settings));
        File.Move(temporary, path, overwrite: true);
    }
}
