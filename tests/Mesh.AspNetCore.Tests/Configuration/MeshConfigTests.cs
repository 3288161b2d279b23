using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mesh.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Configuration;

/// <summary>
/// <c>GET /mesh/config</c> of a real application with its own <c>appsettings.json</c>, fed by a real meshd: each option
/// the client runs with, and which layer set it, so a local key that beats meshd's policy is visible.
/// </summary>
public sealed class MeshConfigTests : IDisposable
{
    private readonly TempDirectory _root = new("mesh-config-");

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task A_local_key_that_overrides_meshds_policy_is_shown_as_the_one_in_force()
    {
        await using var meshd = await TestMeshd.StartAsync();
        Assert.True((await meshd.PutPolicyAsync("back", """{ "Timeout": "00:00:02", "Retry": { "MaxAttempts": 2 } }""")).IsSuccessStatusCode);
        Assert.Equal(HttpStatusCode.OK, (await meshd.RegisterAsync("back", "back-1", "http://127.0.0.1:5301")).StatusCode);
        await using var app = await StartAppAsync(meshd, """{ "Timeout": "00:00:05" }""");
        using var http = new HttpClient { BaseAddress = app.Address };

        var config = await ConfigWhenAsync(http, "back", keys => Source(keys, "Retry:MaxAttempts") == "meshd");

        var service = Service(config, "back");
        var timeout = Key(service, "Timeout");
        Assert.Equal("00:00:05", (string?)timeout["value"]);
        Assert.Equal("appsettings", (string?)timeout["source"]);
        Assert.Equal("meshd", (string?)timeout["overrides"]);
        Assert.Contains("appsettings.json", (string?)timeout["provider"], StringComparison.Ordinal);

        var attempts = Key(service, "Retry:MaxAttempts");
        Assert.Equal("2", (string?)attempts["value"]);
        Assert.Null(attempts["overrides"]);
        Assert.Null(attempts["provider"]);

        var balancer = Key(service, "LoadBalancer");
        Assert.Equal("default", (string?)balancer["source"]);
        Assert.Equal(new MeshServiceOptions().LoadBalancer, (string?)balancer["value"]);

        // What /mesh/config shows is what the client runs.
        Assert.True(app.Services.GetRequiredService<ServiceCatalog>().TryGetService("back", out var running));
        Assert.Equal(TimeSpan.FromSeconds(5), running.Options.Timeout);
        Assert.Equal(2, running.Options.Retry.MaxAttempts);

        // meshd still shows its own policy: the override is the client's, and now it can be seen.
        var policy = (await meshd.Admin.GetFromJsonAsync<JsonObject>(new Uri("/v1/policies/back", UriKind.Relative)))!;
        Assert.Equal("00:00:02", (string?)policy["policy"]!["Timeout"]);
        Assert.Equal((long)policy["version"]!, (long?)service["policyVersion"]);
        Assert.NotNull((long?)config["controlPlaneVersion"]);
        Assert.True((long)config["version"]! >= 1);

        // No credential is served: the token the client uses with meshd is not in the answer.
        var raw = await http.GetStringAsync(new Uri("/mesh/config", UriKind.Relative));
        Assert.DoesNotContain(TestMeshd.WorkloadToken, raw, StringComparison.Ordinal);
        Assert.DoesNotContain(meshd.Address.ToString(), raw, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_change_of_meshds_policy_shows_up_with_its_new_version_and_the_local_override_still_wins()
    {
        await using var meshd = await TestMeshd.StartAsync();
        Assert.True((await meshd.PutPolicyAsync("back", """{ "Timeout": "00:00:02" }""")).IsSuccessStatusCode);
        await meshd.RegisterAsync("back", "back-1", "http://127.0.0.1:5301");
        await using var app = await StartAppAsync(meshd, """{ "Timeout": "00:00:05" }""");
        using var http = new HttpClient { BaseAddress = app.Address };
        await ConfigWhenAsync(http, "back", keys => (string?)Find(keys, "Timeout")?["overrides"] == "meshd");

        Assert.True((await meshd.PatchPolicyAsync("back", """{ "LoadBalancer": "RoundRobin" }""")).IsSuccessStatusCode);
        var version = (long)(await meshd.Admin.GetFromJsonAsync<JsonObject>(new Uri("/v1/policies/back", UriKind.Relative)))!["version"]!;

        // The value is the one the catalog's snapshot runs; it follows the key once the catalog rebuilt.
        var config = await ConfigWhenAsync(http, "back", keys => Source(keys, "LoadBalancer") == "meshd" && (string?)Find(keys, "LoadBalancer")?["value"] == "RoundRobin");
        var service = Service(config, "back");
        Assert.Equal(version, (long?)service["policyVersion"]);
        Assert.Equal("RoundRobin", (string?)Key(service, "LoadBalancer")["value"]);
        Assert.Equal("00:00:05", (string?)Key(service, "Timeout")["value"]);
        Assert.Equal("appsettings", Source((JsonArray)service["keys"]!, "Timeout"));
    }

    [Fact]
    public async Task Options_set_in_code_are_told_from_defaults_and_an_app_without_meshd_shows_no_control_plane_version()
    {
        await using var app = await TestApp.StartAsync(
            services => services.AddMesh(o => o.Services["catalog"] = new MeshServiceOptions
            {
                Endpoints = { new("http://127.0.0.1:5401") },
                Timeout = TimeSpan.FromSeconds(3),
            }),
            app => app.MapMeshEndpoints());
        using var http = new HttpClient { BaseAddress = app.Address };

        var config = (await http.GetFromJsonAsync<JsonObject>(new Uri("/mesh/config", UriKind.Relative)))!;

        Assert.Null(config["controlPlaneVersion"]);
        var service = Service(config, "catalog");
        Assert.Null(service["policyVersion"]);
        Assert.Equal("00:00:03", (string?)Key(service, "Timeout")["value"]);
        Assert.Equal("code", (string?)Key(service, "Timeout")["source"]);
        Assert.Equal("http://127.0.0.1:5401", (string?)Key(service, "Endpoints:0:Address")["value"]);
        Assert.Equal("code", (string?)Key(service, "Endpoints:0:Address")["source"]);
        Assert.Equal("default", (string?)Key(service, "Retry:MaxAttempts")["source"]);
    }

    private async Task<RunningApp> StartAppAsync(TestMeshd meshd, string backOptions)
    {
        var content = Directory.CreateDirectory(Path.Combine(_root.Path, "app")).FullName;
        await File.WriteAllTextAsync(Path.Combine(content, "appsettings.json"), $$"""
            {
              "Mesh": {
                "ServiceName": "front",
                "ControlPlane": {
                  "Address": "{{meshd.Address}}",
                  "Token": "{{TestMeshd.WorkloadToken}}",
                  "CacheDirectory": "{{Path.Combine(_root.Path, "cache").Replace("\\", "\\\\", StringComparison.Ordinal)}}"
                },
                "Services": { "back": {{backOptions}} }
              }
            }
            """);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = content });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddMesh();
        var app = builder.Build();
        app.MapMeshEndpoints();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new RunningApp(app, new Uri(address));
    }

    private static async Task<JsonObject> ConfigWhenAsync(HttpClient http, string service, Func<JsonArray, bool> condition)
    {
        JsonObject? config = null;
        await Eventually.WaitAsync(
            async () =>
            {
                config = (await http.GetFromJsonAsync<JsonObject>(new Uri("/mesh/config", UriKind.Relative)))!;
                return Find(config, service) is { } found && condition((JsonArray)found["keys"]!);
            },
            $"/mesh/config to show the expected keys of '{service}'");
        return config!;
    }

    private static JsonObject? Find(JsonObject config, string service) =>
        config["services"]!.AsArray().Select(s => s!.AsObject()).FirstOrDefault(s => (string?)s["service"] == service);

    private static JsonObject Service(JsonObject config, string service) =>
        Find(config, service) ?? throw new Xunit.Sdk.XunitException($"/mesh/config has no service '{service}': {config.ToJsonString()}");

    private static JsonObject? Find(JsonArray keys, string key) =>
        keys.Select(k => k!.AsObject()).FirstOrDefault(k => string.Equals((string?)k["key"], key, StringComparison.OrdinalIgnoreCase));

    private static JsonObject Key(JsonObject service, string key) =>
        Find((JsonArray)service["keys"]!, key) ?? throw new Xunit.Sdk.XunitException($"service '{service["service"]}' has no key '{key}': {service.ToJsonString()}");

    private static string? Source(JsonArray keys, string key) => (string?)Find(keys, key)?["source"];

    private sealed class RunningApp(WebApplication app, Uri address) : IAsyncDisposable
    {
        public Uri Address => address;

        public IServiceProvider Services => app.Services;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
