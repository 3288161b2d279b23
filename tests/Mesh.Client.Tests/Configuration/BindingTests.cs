using Mesh.Balancing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.Configuration;

/// <summary>The configuration shapes of the README bind as documented.</summary>
public sealed class BindingTests
{
    [Fact]
    public void Endpoints_may_be_strings_or_objects_with_zone_weight_and_labels()
    {
        const string json = """
            { "Mesh": { "Services": { "inventory": {
                "Endpoints": [ "http://127.0.0.1:5001", { "Address": "http://127.0.0.1:5002", "Zone": "b", "Weight": 2, "Labels": { "version": "v2" } } ],
                "LoadBalancer": "RoundRobin" } } } }
            """;
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json))).Build());
        services.AddMesh();
        using var provider = services.BuildServiceProvider();

        Assert.True(provider.GetRequiredService<Mesh.Pipeline.ServiceCatalog>().TryGetService("inventory", out var service));

        Assert.IsType<RoundRobinBalancer>(service.Destination.Balancer);
        var first = service.Destination.Endpoints[0].Endpoint;
        var second = service.Destination.Endpoints[1].Endpoint;
        Assert.Equal(new Uri("http://127.0.0.1:5001"), first.Address);
        Assert.Equal(1, first.Weight);
        Assert.Null(first.Zone);
        Assert.Equal(new Uri("http://127.0.0.1:5002"), second.Address);
        Assert.Equal("b", second.Zone);
        Assert.Equal(2, second.Weight);
        Assert.Equal("v2", second.Labels["version"]);
    }

    [Fact]
    public void Code_configuration_applies_after_the_configuration_section()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0"] = "http://127.0.0.1:5001",
        }).Build());
        services.AddMesh(o =>
        {
            o.Services["inventory"].LoadBalancer = LoadBalancerNames.LeastRequest;
            o.Services["orders"] = new MeshServiceOptions { Endpoints = { new("https://127.0.0.1:6001") } };
        });
        using var provider = services.BuildServiceProvider();
        var catalog = provider.GetRequiredService<Mesh.Pipeline.ServiceCatalog>();

        Assert.True(catalog.TryGetService("inventory", out var inventory));
        Assert.IsType<LeastRequestBalancer>(inventory.Destination.Balancer);
        Assert.True(catalog.TryGetService("orders", out var orders));
        Assert.IsType<PeakEwmaBalancer>(orders.Destination.Balancer);
    }

    [Fact]
    public void Without_any_configuration_nothing_is_meshed()
    {
        var services = new ServiceCollection();
        services.AddMesh();
        using var provider = services.BuildServiceProvider();

        Assert.Empty(provider.GetRequiredService<Mesh.Pipeline.ServiceCatalog>().ServiceNames);
    }
}
