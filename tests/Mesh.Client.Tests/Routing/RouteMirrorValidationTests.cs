using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Routing;

/// <summary>Bad service names in destinations and bad mirrors are refused by the one validator with the field named.</summary>
public sealed class RouteMirrorValidationTests
{
    private const string R = "Mesh:Services:inventory:Routes:0";

    public static TheoryData<string, string, string[]> Invalid => new()
    {
        { $"{R}:Destinations:0:Service", "inventory next", [$"{R}:Destinations:0:Service: 'inventory next' is not a valid service name", "service 'inventory'"] },
        { $"{R}:Destinations:0:Service", "-next", [$"{R}:Destinations:0:Service: '-next' is not a valid service name"] },
        { $"{R}:Destinations:0:Service", new string('a', 300), [$"{R}:Destinations:0:Service: '{new string('a', 64)}…' is not a valid service name"] },
        { $"{R}:Mirror:Service", "shadow/x", [$"{R}:Mirror:Service: 'shadow/x' is not a valid service name"] },
        { $"{R}:Mirror:Percent", "101", [$"{R}:Mirror:Percent: 101 is out of range", "0 to 100"] },
        { $"{R}:Mirror:Percent", "-1", [$"{R}:Mirror:Percent: -1 is out of range"] },
        { $"{R}:Mirror:Timeout", "00:00:00", [$"{R}:Mirror:Timeout: 00:00:00 is out of range", "at most 1 minute"] },
        { $"{R}:Mirror:Timeout", "00:02:00", [$"{R}:Mirror:Timeout: 00:02:00 is out of range"] },
        { $"{R}:Mirror:MaxConcurrent", "0", [$"{R}:Mirror:MaxConcurrent: 0 is out of range", "1 to 1024"] },
        { $"{R}:Mirror:MaxConcurrent", "5000", [$"{R}:Mirror:MaxConcurrent: 5000 is out of range"] },
        { $"{R}:Mirror:Percentage", "5", [$"{R}:Mirror:Percentage: 'Percentage' is not a known setting of service 'inventory'", "Percent"] },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public async Task The_host_does_not_start_and_the_error_names_the_field(string key, string value, string[] expected)
    {
        var config = new Dictionary<string, string?> { [key] = value };
        if (key.Contains(":Mirror:", StringComparison.Ordinal) && !key.EndsWith(":Service", StringComparison.Ordinal))
        {
            config[$"{R}:Mirror:Service"] = "shadow";
        }

        var error = await StartFailureAsync(config);

        Assert.All(expected, part => Assert.Contains(part, error, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_mirror_with_neither_service_nor_labels_is_refused()
    {
        var error = await StartFailureAsync(new() { [$"{R}:Mirror:Percent"] = "10" });

        Assert.Contains($"{R}:Mirror: the mirror names neither a service nor labels", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Meshd_refuses_a_bad_mirror_naming_its_field_and_accepts_a_good_one()
    {
        await using var meshd = await TestMeshd.StartAsync();

        using var bad = await meshd.PutPolicyAsync("inventory", """{ "Routes": [ { "Mirror": { "Service": "shadow", "Percent": 150 } } ] }""");
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.Contains("Routes:0:Mirror:Percent", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var good = await meshd.PutPolicyAsync("inventory", """{ "Routes": [ { "Destinations": [ { "Service": "inventory-next" } ], "Mirror": { "Service": "shadow", "Percent": 5, "Timeout": "00:00:00.500" } } ] }""");
        Assert.True(good.IsSuccessStatusCode, await good.Content.ReadAsStringAsync());
    }

    private static async Task<string> StartFailureAsync(Dictionary<string, string?> config)
    {
        config["Mesh:Services:inventory:Endpoints:0"] = "http://127.0.0.1:5001";
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(config);
        builder.Services.AddMesh();
        builder.Services.AddHttpClient("meshed").AddMesh();
        using var host = builder.Build();
        return (await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync())).Message;
    }
}
