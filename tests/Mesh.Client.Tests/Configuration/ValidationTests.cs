using Mesh.Balancing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Configuration;

/// <summary>Invalid configuration is refused at startup with the service, the field and the value, and on reload the last good one stays.</summary>
public sealed class ValidationTests
{
    public static TheoryData<string, string, string[]> InvalidConfigurations => new()
    {
        { "Mesh:Services:inventory:LoadBalancer", "PeakEwma", ["Mesh:Services:inventory:Endpoints", "inventory", "no endpoints"] },
        { "Mesh:Services:inventory:Endpoints:0", "ftp://127.0.0.1:21", ["Mesh:Services:inventory:Endpoints:0:Address", "'ftp://127.0.0.1:21'", "http or https"] },
        { "Mesh:Services:inventory:Endpoints:0", "127.0.0.1:5001", ["Mesh:Services:inventory:Endpoints:0:Address", "'127.0.0.1:5001'"] },
        { "Mesh:Services:inventory:Endpoints:0", "http://127.0.0.1:5001/base", ["Mesh:Services:inventory:Endpoints:0:Address", "no path"] },
        { "Mesh:Services:inventory:Endpoints:0:Weight", "-2", ["Mesh:Services:inventory:Endpoints:0:Weight", "-2", "inventory"] },
        { "Mesh:Services:inventory:Endpoints:0:Weight", "heavy", ["Mesh:Services:inventory:Endpoints:0:Weight", "heavy"] },
        { "Mesh:Services:inventory:LoadBalancer", "Fancy", ["Mesh:Services:inventory:LoadBalancer", "'Fancy'", "inventory", "PeakEwma"] },
        { "Mesh:Services:inventory:Endpionts:0", "http://127.0.0.1:5001", ["Mesh:Services:inventory:Endpionts: 'Endpionts' is not a known setting of service 'inventory'", "Endpoints"] },
        { "Mesh:Services:inventory:Retyr:MaxAttempts", "3", ["Mesh:Services:inventory:Retyr: 'Retyr' is not a known setting of service 'inventory'", "Retry"] },
        { "Mesh:Services:inventory:Retry:MaxAttemps", "3", ["Mesh:Services:inventory:Retry:MaxAttemps: 'MaxAttemps' is not a known setting of service 'inventory'", "MaxAttempts"] },
        { "Mesh:Services:inventory:Endpoints:0:Adress", "http://127.0.0.1:5001", ["Mesh:Services:inventory:Endpoints:0:Adress", "Address"] },
        { "Mesh:ControlPlane:Adress", "http://127.0.0.1:7070", ["Mesh:ControlPlane:Adress: 'Adress' is not a known setting (known: Address"] },
        { "Mesh:Services:inventory:RingHash:PointsPerWeight", "0", ["Mesh:Services:inventory:RingHash:PointsPerWeight", "0"] },
        { "Mesh:Mtls:Mode", "Strictly", ["Mesh:Mtls:Mode: 'Strictly' is not a mode", "Strict, Permissive, Off"] },
        { "Mesh:Zone", " a", ["Mesh:Zone: ' a' has white space around it"] },
        { "Mesh:Zone", "a\u0001b", ["Mesh:Zone: the zone holds control characters"] },
        { "Mesh:Zone", new string('z', 129), ["Mesh:Zone: the zone is 129 characters long; at most 128"] },
        { "Mesh:Services:inventory:ZoneAware:MinHealthyPercent", "101", ["Mesh:Services:inventory:ZoneAware:MinHealthyPercent: 101 is out of range", "inventory", "0 to 100"] },
        { "Mesh:Services:inventory:ZoneAware:MinHealthyPercent", "-1", ["Mesh:Services:inventory:ZoneAware:MinHealthyPercent: -1 is out of range"] },
        { "Mesh:Services:inventory:ZoneAware:MinHealthyPrecent", "50", ["Mesh:Services:inventory:ZoneAware:MinHealthyPrecent", "MinHealthyPercent"] },
        { "Mesh:Mtls:Mod", "Strict", ["Mesh:Mtls:Mod: 'Mod' is not a known setting", "Mode"] },
    };

    [Theory]
    [MemberData(nameof(InvalidConfigurations))]
    public async Task The_host_does_not_start_and_the_error_names_field_service_and_value(string key, string value, string[] expected)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [key] = value });
        builder.Services.AddMesh();
        builder.Services.AddHttpClient("meshed").AddMesh();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.All(expected, part => Assert.Contains(part, error.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Creating_a_meshed_client_over_invalid_configuration_throws_the_same_error()
    {
        using var host = MeshTestHost.Create(new Dictionary<string, string?> { ["Mesh:Services:inventory:Endpoints:0:Weight"] = "-1" });

        var error = Assert.Throws<OptionsValidationException>(() => host.Client);

        Assert.Contains("Mesh:Services:inventory:Endpoints:0:Weight", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_made_in_code_are_validated_too()
    {
        var services = new ServiceCollection();
        services.AddMesh(o => o.Services["orders"] = new MeshServiceOptions { LoadBalancer = "Nope" });
        services.AddHttpClient("meshed").AddMesh();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IHttpClientFactory>().CreateClient("meshed"));

        Assert.Contains("Mesh:Services:orders:LoadBalancer: 'Nope'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_reload_is_refused_and_logged_and_the_last_good_configuration_keeps_serving()
    {
        await using var backend = await TestBackend.StartAsync("good");
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [backend]));
        var client = host.Client;
        var version = host.Catalog.Version;

        host.Configuration.Replace(new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0:Address"] = "not a uri",
            ["Mesh:Services:inventory:Endpoints:0:Weight"] = "-5",
        });

        Assert.Equal(version, host.Catalog.Version);
        Assert.Equal(1, host.Catalog.RejectedReloads);
        var logged = Assert.Single(host.Logs.Entries, e => e.Level == LogLevel.Error);
        Assert.Contains("Mesh:Services:inventory:Endpoints:0:Address: 'not a uri'", logged.Message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Services:inventory:Endpoints:0:Weight: -5", logged.Message, StringComparison.Ordinal);
        using var response = await client.GetAsync("http://inventory/still-here");
        Assert.Equal("good", response.Headers.GetValues("x-backend").Single());
    }

    [Fact]
    public async Task A_valid_reload_after_a_refused_one_is_applied()
    {
        await using var first = await TestBackend.StartAsync("first");
        await using var second = await TestBackend.StartAsync("second");
        using var host = MeshTestHost.Create(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [first]));
        var client = host.Client;

        host.Configuration.Replace(new Dictionary<string, string?> { ["Mesh:Services:inventory:LoadBalancer"] = "Bogus" });
        host.Configuration.Replace(MeshTestHost.ServiceConfig("inventory", LoadBalancerNames.RoundRobin, [second]));

        using var response = await client.GetAsync("http://inventory/");
        Assert.Equal("second", response.Headers.GetValues("x-backend").Single());
        Assert.Equal(1, host.Catalog.RejectedReloads);
    }
}
