using System.Text.Json;
using Mesh.AspNetCore.Registration;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Cli.Tests.Verbs;

/// <summary>meshctl against a real <c>AddMeshServer()</c> host that registers itself with meshd and renews its lease.</summary>
public sealed class MeshServerTests : IAsyncLifetime
{
    private Scenario _scenario = null!;

    private Cli Cli => _scenario.Cli;

    public async Task InitializeAsync() => _scenario = await Scenario.StartAsync(fleet: false);

    public async Task DisposeAsync() => await _scenario.DisposeAsync();

    [Fact]
    public async Task A_registered_mesh_server_is_listed_described_and_its_policy_switched()
    {
        await Fleet.PutPolicyAsync(_scenario.Meshd, "inventory", """{ "LoadBalancer": "RoundRobin" }""");
        await using var server = await TestApp.StartAsync(
            services =>
            {
                services.AddMeshServer();
                services.Configure<MeshOptions>(o =>
                {
                    o.ServiceName = "inventory";
                    o.ControlPlane.Address = _scenario.Meshd.Address.ToString();
                    o.ControlPlane.Token = TestMeshd.WorkloadToken;
                    o.ControlPlane.CacheDirectory = Path.Combine(Cli.Home, "cache");
                });
                services.Configure<MeshServerOptions>(o =>
                {
                    o.InstanceId = "inv-a";
                    o.Zone = "eu-1";
                    o.DrainTime = TimeSpan.Zero;
                });
            },
            app =>
            {
                app.MapMeshEndpoints();
                app.MapGet("/", () => "inventory");
            });
        var address = server.Address.GetLeftPart(UriPartial.Authority);

        await Eventually.WaitAsync(
            async () => (await Cli.RunAsync("get", "instances", "inventory")).Out.Contains("inv-a", StringComparison.Ordinal),
            "inv-a listed by meshctl");

        var json = await Cli.RunAsync("get", "instances", "inventory", "-o", "json");
        using (var document = JsonDocument.Parse(json.Out))
        {
            var instance = document.RootElement.EnumerateArray().Single();
            Assert.Equal(("inventory", "inv-a", address, "eu-1"), (instance.GetProperty("service").GetString(), instance.GetProperty("instanceId").GetString(), instance.GetProperty("address").GetString(), instance.GetProperty("zone").GetString()));
        }

        var describe = await Cli.RunAsync("describe", "service", "inventory");
        Assert.Equal(0, describe.Code);
        Assert.Contains("Policy:     v1 from meshd", describe.Out, StringComparison.Ordinal);
        Assert.Contains($"  inv-a     {address}  eu-1", describe.Out, StringComparison.Ordinal);

        // What meshctl switches reaches the instance: its /mesh/config runs the new version.
        Assert.Equal(0, (await Cli.RunAsync("disable", "inventory", "retry")).Code);
        using var http = new HttpClient { BaseAddress = server.Address };
        await Eventually.WaitAsync(
            async () =>
            {
                using var config = JsonDocument.Parse(await http.GetStringAsync(new Uri("/mesh/config", UriKind.Relative)));
                return config.RootElement.GetProperty("services").EnumerateArray()
                    .Any(e => e.GetProperty("service").GetString() == "inventory" && e.GetProperty("policyVersion").ValueKind == JsonValueKind.Number && e.GetProperty("policyVersion").GetInt64() == 2);
            },
            "inv-a runs policy v2");
    }
}
