using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Routing;

/// <summary>A route's retry, header changes and faults are validated with the field named, at startup and by meshd.</summary>
public sealed class RoutePolicyValidationTests
{
    private const string R = "Mesh:Services:inventory:Routes:0";

    public static TheoryData<Dictionary<string, string?>, string[]> InvalidPolicies => new()
    {
        { new() { [$"{R}:Retry:MaxAttempts"] = "11" }, [$"{R}:Retry:MaxAttempts: 11 is out of range for service 'inventory' (1 to 10)"] },
        { new() { [$"{R}:Retry:On:0"] = "sometimes" }, [$"{R}:Retry:On: 'sometimes' is not a retryable failure"] },
        { new() { [$"{R}:Retry:Budget:Ratio"] = "0.5" }, [$"{R}:Retry:Budget: a route's retries draw on the budget of service 'inventory'"] },
        { new() { [$"{R}:RequestHeaders:Set:x y"] = "v" }, [$"{R}:RequestHeaders:Set:x y: 'x y' is not a header name"] },
        { new() { [$"{R}:RequestHeaders:Add:x-a"] = "one\ntwo" }, [$"{R}:RequestHeaders:Add:x-a: the value must be at most 4096 characters of printable ASCII, without control characters"] },
        { new() { [$"{R}:RequestHeaders:Set:x-a"] = "caf\u00e9" }, [$"{R}:RequestHeaders:Set:x-a: the value must be at most 4096 characters of printable ASCII"] },
        { new() { [$"{R}:RequestHeaders:Set:x-a"] = new string('v', 4097) }, [$"{R}:RequestHeaders:Set:x-a: the value must be at most 4096"] },
        { new() { [$"{R}:RequestHeaders:Set:mesh-timeout"] = "1" }, [$"{R}:RequestHeaders:Set:mesh-timeout: 'mesh-timeout' is a header the mesh sets itself"] },
        { new() { [$"{R}:RequestHeaders:Add:Host"] = "elsewhere" }, [$"{R}:RequestHeaders:Add:Host: 'Host' is a header of the connection"] },
        { new() { [$"{R}:RequestHeaders:Remove:0"] = "Transfer-Encoding" }, [$"{R}:RequestHeaders:Remove:0: 'Transfer-Encoding' is a header of the connection"] },
        { new() { [$"{R}:RequestHeaders:Remove:0"] = ":authority" }, [$"{R}:RequestHeaders:Remove:0: ':authority' is not a header name"] },
        { new() { [$"{R}:RequestHeaders:Remove:0"] = "x-a", [$"{R}:RequestHeaders:Set:x-a"] = "v" }, [$"{R}:RequestHeaders:Set:x-a: 'x-a' is also in Remove"] },
        { new() { [$"{R}:Fault:Delay:Percent"] = "100.5", [$"{R}:Fault:Delay:Duration"] = "00:00:01" }, [$"{R}:Fault:Delay:Percent: 100.5 is out of range for service 'inventory' (0 to 100)"] },
        { new() { [$"{R}:Fault:Delay:Percent"] = "5", [$"{R}:Fault:Delay:Duration"] = "00:01:01" }, [$"{R}:Fault:Delay:Duration: 00:01:01 is out of range", "at most 1 minute"] },
        { new() { [$"{R}:Fault:Delay:Percent"] = "5" }, [$"{R}:Fault:Delay:Duration: 00:00:00 is out of range"] },
        { new() { [$"{R}:Fault:Abort:Percent"] = "-1", [$"{R}:Fault:Abort:HttpStatus"] = "503" }, [$"{R}:Fault:Abort:Percent: -1 is out of range"] },
        { new() { [$"{R}:Fault:Abort:Percent"] = "5", [$"{R}:Fault:Abort:HttpStatus"] = "199" }, [$"{R}:Fault:Abort:HttpStatus: 199 is out of range", "200 to 599"] },
        { new() { [$"{R}:Fault:Abort:Percent"] = "5", [$"{R}:Fault:Abort:GrpcStatus"] = "0" }, [$"{R}:Fault:Abort:GrpcStatus: 0 is out of range", "1 to 16"] },
        { new() { [$"{R}:Fault:Abort:Percent"] = "5", [$"{R}:Fault:Abort:GrpcStatus"] = "14", [$"{R}:Fault:Abort:HttpStatus"] = "503" }, [$"{R}:Fault:Abort: set exactly one of HttpStatus and GrpcStatus"] },
        { new() { [$"{R}:Fault:Abort:Percent"] = "5" }, [$"{R}:Fault:Abort: set exactly one of HttpStatus and GrpcStatus"] },
        { new() { [$"{R}:Fault:Abort:Precent"] = "5" }, [$"{R}:Fault:Abort:Precent: 'Precent' is not a known setting of service 'inventory'"] },
    };

    [Theory]
    [MemberData(nameof(InvalidPolicies))]
    public async Task The_host_does_not_start_and_the_error_names_the_field(Dictionary<string, string?> config, string[] expected)
    {
        var error = await StartFailureAsync(config);

        Assert.All(expected, part => Assert.Contains(part, error, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Too_many_header_changes_are_refused()
    {
        var config = new Dictionary<string, string?>();
        for (var i = 0; i <= 16; i++)
        {
            config[$"{R}:RequestHeaders:Add:x-{i}"] = "v";
        }

        Assert.Contains($"{R}:RequestHeaders:Add: 17 headers", await StartFailureAsync(config), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Meshd_refuses_a_bad_fault_naming_its_field_and_accepts_a_good_policy()
    {
        await using var meshd = await TestMeshd.StartAsync();

        using var bad = await meshd.PutPolicyAsync("inventory", """{ "Routes": [ { "Fault": { "Abort": { "Percent": 5, "HttpStatus": 700 } } } ] }""");
        var problem = JsonNode.Parse(await bad.Content.ReadAsStringAsync())!;
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.Contains("out of range", problem["errors"]!["Routes:0:Fault:Abort:HttpStatus"]![0]!.GetValue<string>(), StringComparison.Ordinal);

        using var good = await meshd.PutPolicyAsync("inventory", """
            { "Routes": [ { "Name": "checkout", "Match": { "Path": { "Value": "/checkout" } },
              "Retry": { "MaxAttempts": 2 },
              "RequestHeaders": { "Set": { "x-tier": "gold" }, "Add": { "x-via": "mesh" }, "Remove": [ "x-debug" ] },
              "Fault": { "Delay": { "Percent": 0.5, "Duration": "00:00:00.100" }, "Abort": { "Percent": 1, "GrpcStatus": 14 } } } ] }
            """);
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
