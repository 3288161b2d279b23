using System.Net;
using Mesh.Discovery;
using Mesh.Utilities;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// Destinations that are other services, over real backends on loopback: an 80/20 split between two services within ±3
/// points over 10 000 requests, the other service's own endpoints, labels and policy, the original path kept, and a
/// service the mesh does not know failing its share at once with the route and the service named.
/// </summary>
public sealed class RouteServiceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Requests = 10_000;
    private TestBackend _inventory = null!;
    private TestBackend _next = null!;

    public async Task InitializeAsync()
    {
        _inventory = await TestBackend.StartAsync("inventory");
        _next = await TestBackend.StartAsync("inventory-next");
    }

    public async Task DisposeAsync()
    {
        await _inventory.DisposeAsync();
        await _next.DisposeAsync();
    }

    [Fact]
    public async Task An_80_20_split_between_two_services_holds_within_three_points_over_10000_requests()
    {
        using var host = Host(new()
        {
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Weight"] = "80",
            ["Mesh:Services:inventory:Routes:0:Destinations:1:Service"] = "inventory-next",
            ["Mesh:Services:inventory:Routes:0:Destinations:1:Weight"] = "20",
        });
        var client = host.Client;

        var succeeded = await Load.RunAsync(Requests, 8, _ => Load.GetOkAsync(client, "http://inventory/items"));

        var share = _next.Requests / (double)Requests;
        output.WriteLine($"inventory {_inventory.Requests}, inventory-next {_next.Requests} of {Requests} ({share:P2} to inventory-next, expected 20 %).");
        Assert.Equal(Requests, succeeded);
        Assert.Equal(Requests, _inventory.Requests + _next.Requests);
        Assert.InRange(share, 0.17, 0.23);
    }

    [Fact]
    public async Task The_other_service_answers_with_its_own_retries_and_the_original_path_and_query()
    {
        // inventory retries nothing; inventory-next retries (its default), so a first 503 there is retried.
        using var host = Host(new()
        {
            ["Mesh:Services:inventory:Retry:Enabled"] = "false",
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Service"] = "inventory-next",
        });
        var client = host.Client;
        _next.Script(new TestBackend.Reply(HttpStatusCode.ServiceUnavailable));

        using var response = await client.GetAsync("http://inventory/items/7?color=red");
        var echo = await TestBackend.ReadEchoAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("inventory-next", echo.Backend);
        Assert.Equal("/items/7", echo.Path);
        Assert.Equal("?color=red", echo.Query);
        Assert.Equal(2, _next.Requests);
        Assert.Equal(0, _inventory.Requests);
        Assert.Equal(1, host.Catalog.CountersOf("inventory-next").Retries);
        Assert.Equal(0, host.Catalog.CountersOf("inventory").Retries);

        // The same first failure on inventory's own endpoints is not retried: its policy is its own.
        host.Configuration.Replace(Config(new() { ["Mesh:Services:inventory:Retry:Enabled"] = "false" }));
        await Eventually.WaitAsync(() => host.Catalog.TryGetService("inventory", out var s) && s.Routes is null, "the routes to be removed");
        _inventory.Script(new TestBackend.Reply(HttpStatusCode.ServiceUnavailable));
        using var own = await client.GetAsync("http://inventory/items/7");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, own.StatusCode);
    }

    [Fact]
    public async Task Labels_select_a_subset_of_the_other_service()
    {
        await using var v2 = await TestBackend.StartAsync("inventory-next-v2");
        using var host = Host(new()
        {
            ["Mesh:Services:inventory-next:Endpoints:0:Labels:version"] = "v1",
            ["Mesh:Services:inventory-next:Endpoints:1:Address"] = v2.Address.ToString(),
            ["Mesh:Services:inventory-next:Endpoints:1:Labels:version"] = "v2",
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Service"] = "inventory-next",
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Labels:version"] = "v2",
        });
        var client = host.Client;

        await Load.RunAsync(200, 4, _ => Load.GetOkAsync(client, "http://inventory/items"));
        await Load.RunAsync(100, 4, _ => Load.GetOkAsync(client, "http://inventory-next/items"));

        // Routed calls reach v2 only; inventory-next's own callers still reach both of its endpoints.
        Assert.Equal(0, _inventory.Requests);
        Assert.Equal(300, v2.Requests + _next.Requests);
        Assert.InRange(v2.Requests, 201, 299);
    }

    [Fact]
    public async Task A_service_the_mesh_does_not_know_fails_its_share_at_once_naming_the_route_and_the_service()
    {
        using var host = Host(new()
        {
            ["Mesh:Services:inventory:Routes:0:Name"] = "canary",
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Service"] = "inventory-nope",
        });
        var client = host.Client;

        var error = await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => client.GetAsync("http://inventory/items"));

        output.WriteLine(error.Message);
        Assert.Equal("inventory-nope", error.ServiceName);
        Assert.Contains("'inventory-nope'", error.Message, StringComparison.Ordinal);
        Assert.Contains("route 'canary' of service 'inventory'", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _inventory.Requests);
        Assert.Equal(0, host.Catalog.CountersOf("inventory").Retries);

        // Once the service exists, the same route reaches it, with no restart.
        host.Configuration.Replace(Config(new()
        {
            ["Mesh:Services:inventory:Routes:0:Name"] = "canary",
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Service"] = "inventory-nope",
            ["Mesh:Services:inventory-nope:Endpoints:0:Address"] = _next.Address.ToString(),
        }));
        await Eventually.WaitAsync(() => host.Catalog.TryGetService("inventory-nope", out _), "the new service");
        await Load.GetOkAsync(client, "http://inventory/items");
        Assert.Equal(1, _next.Requests);
    }

    [Fact]
    public async Task A_destination_naming_its_own_service_is_its_own_endpoints()
    {
        using var host = Host(new()
        {
            ["Mesh:Services:inventory:Routes:0:Destinations:0:Service"] = "INVENTORY",
        });

        await Load.RunAsync(50, 2, _ => Load.GetOkAsync(host.Client, "http://inventory/items"));

        Assert.Equal(50, _inventory.Requests);
        Assert.Equal(0, _next.Requests);
    }

    private Dictionary<string, string?> Config(Dictionary<string, string?> extra)
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0:Address"] = _inventory.Address.ToString(),
            ["Mesh:Services:inventory-next:Endpoints:0:Address"] = _next.Address.ToString(),
        };
        foreach (var (key, value) in extra)
        {
            config[key] = value;
        }

        return config;
    }

    private MeshTestHost Host(Dictionary<string, string?> extra) =>
        MeshTestHost.Create(Config(extra), services => services.AddSingleton(MeshRandom.Seeded(16)));
}
