using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Routing;

/// <summary>Bad routes are refused by the one validator with the field named: at startup, on reload (the last good routes stay), and by meshd.</summary>
public sealed class RouteValidationTests
{
    private const string R = "Mesh:Services:inventory:Routes:0";

    public static TheoryData<string, string, string[]> InvalidRoutes => new()
    {
        { $"{R}:Match:Path:Type", "Suffix", [$"{R}:Match:Path:Type: 'Suffix' is not a path match", "inventory", "Exact, Prefix, Regex"] },
        { $"{R}:Match:Path:Value", "items", [$"{R}:Match:Path:Value: 'items' is not a path", "start with '/'"] },
        { $"{R}:Match:Path:Value", "/a b", [$"{R}:Match:Path:Value: '/a b' is not a path"] },
        { $"{R}:Match:Method", "get", [$"{R}:Match:Method: 'get' is not an HTTP method"] },
        { $"{R}:Match:Headers:0:Type", "Present", [$"{R}:Match:Headers:0:Name: '' is not a header name"] },
        { $"{R}:Match:Headers:0:Name", "x y", [$"{R}:Match:Headers:0:Name: 'x y' is not a header name"] },
        { $"{R}:Match:Headers:0:Name", "x-a", [$"{R}:Match:Headers:0:Value: a 'Exact' condition needs a value"] },
        { $"{R}:Match:QueryParameters:0:Type", "Like", [$"{R}:Match:QueryParameters:0:Type: 'Like' is not a match type", "Exact, Prefix, Regex, Present"] },
        { $"{R}:Destinations:0:Weight", "-1", [$"{R}:Destinations:0:Weight: -1 is out of range", "0 to 10000"] },
        { $"{R}:Destinations:0:Weight", "10001", [$"{R}:Destinations:0:Weight: 10001 is out of range"] },
        { $"{R}:Destinations:0:Weight", "0", [$"{R}:Destinations: every destination of the route has weight 0"] },
        { $"{R}:Timeout", "00:00:00", [$"{R}:Timeout: 00:00:00 is out of range", "more than 0"] },
        { $"{R}:Destinatons:0:Weight", "1", [$"{R}:Destinatons: 'Destinatons' is not a known setting of service 'inventory'", "Destinations"] },
    };

    [Theory]
    [MemberData(nameof(InvalidRoutes))]
    public async Task The_host_does_not_start_and_the_error_names_the_route_field(string key, string value, string[] expected)
    {
        var error = await StartFailureAsync(new() { [key] = value });

        Assert.All(expected, part => Assert.Contains(part, error, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("(a+)+\\1", "Match:Path:Value")]
    [InlineData("(?=x)x", "Match:Headers:0:Value")]
    [InlineData("[unclosed", "Match:QueryParameters:0:Value")]
    public async Task A_regular_expression_that_needs_backtracking_or_does_not_parse_is_refused_naming_its_field(string pattern, string field)
    {
        var config = new Dictionary<string, string?> { [$"{R}:{field}"] = field.StartsWith("Match:Path", StringComparison.Ordinal) ? "/" + pattern : pattern };
        if (field.StartsWith("Match:Path", StringComparison.Ordinal))
        {
            config[$"{R}:Match:Path:Type"] = "Regex";
        }
        else
        {
            var prefix = field[..field.LastIndexOf(':')];
            config[$"{R}:{prefix}:Name"] = "x-a";
            config[$"{R}:{prefix}:Type"] = "Regex";
        }

        var error = await StartFailureAsync(config);

        Assert.Contains($"{R}:{field}: ", error, StringComparison.Ordinal);
        Assert.Contains("without backtracking", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Too_many_routes_or_conditions_are_refused()
    {
        var config = new Dictionary<string, string?>();
        for (var i = 0; i <= 64; i++)
        {
            config[$"Mesh:Services:inventory:Routes:{i}:Match:Path:Value"] = $"/p{i}";
        }

        Assert.Contains("Mesh:Services:inventory:Routes: 65 routes", await StartFailureAsync(config), StringComparison.Ordinal);

        config.Clear();
        for (var i = 0; i <= 16; i++)
        {
            config[$"{R}:Match:Headers:{i}:Name"] = $"x-{i}";
            config[$"{R}:Match:Headers:{i}:Type"] = "Present";
        }

        Assert.Contains($"{R}:Match:Headers: 17 conditions", await StartFailureAsync(config), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_route_on_reload_is_refused_and_the_last_good_routes_stay()
    {
        await using var v1 = await TestBackend.StartAsync("v1");
        await using var v2 = await TestBackend.StartAsync("v2");
        var good = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0:Address"] = v1.Address.ToString(),
            ["Mesh:Services:inventory:Endpoints:0:Labels:version"] = "v1",
            ["Mesh:Services:inventory:Endpoints:1:Address"] = v2.Address.ToString(),
            ["Mesh:Services:inventory:Endpoints:1:Labels:version"] = "v2",
            [$"{R}:Destinations:0:Labels:version"] = "v2",
        };
        using var host = MeshTestHost.Create(good);
        var client = host.Client;
        await Load.GetOkAsync(client, "http://inventory/a");

        host.Configuration.Replace(new Dictionary<string, string?>(good) { [$"{R}:Destinations:0:Weight"] = "-5" });
        await Eventually.WaitAsync(() => host.Catalog.RejectedReloads == 1, "the reload to be refused");
        for (var i = 0; i < 20; i++)
        {
            await Load.GetOkAsync(client, "http://inventory/a");
        }

        Assert.Equal(0, v1.Requests);
        Assert.Equal(21, v2.Requests);
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains($"{R}:Destinations:0:Weight: -5 is out of range", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Meshd_refuses_a_bad_route_naming_its_field_and_accepts_a_good_one()
    {
        await using var meshd = await TestMeshd.StartAsync();

        using var bad = await meshd.PutPolicyAsync("inventory", """{ "Routes": [ { "Match": { "Method": "get" }, "Destinations": [ { "Labels": { "version": 2 }, "Weight": 5 } ] } ] }""");
        var problem = JsonNode.Parse(await bad.Content.ReadAsStringAsync())!;
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.NotNull(problem["errors"]!["Routes:0:Destinations:0:Labels:version"]);

        using var badMethod = await meshd.PutPolicyAsync("inventory", """{ "Routes": [ { "Match": { "Method": "get" } } ] }""");
        var methodProblem = JsonNode.Parse(await badMethod.Content.ReadAsStringAsync())!;
        Assert.Equal(400, (int)badMethod.StatusCode);
        Assert.Contains("is not an HTTP method", methodProblem["errors"]!["Routes:0:Match:Method"]![0]!.GetValue<string>(), StringComparison.Ordinal);

        using var good = await meshd.PutPolicyAsync("inventory", """{ "Routes": [ { "Match": { "Path": { "Type": "Regex", "Value": "/items/[0-9]+" } }, "Destinations": [ { "Labels": { "version": "v2" }, "Weight": 5 } ] } ] }""");
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
