using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// What a route sets beside its destinations, against real backends on loopback: its own retry (over the service's
/// budget), its request header changes, and its name on the call metric.
/// </summary>
public sealed class RoutePolicyTests : IAsyncLifetime
{
    private const string R = "Mesh:Services:inventory:Routes";
    private TestBackend _backend = null!;
    private TestBackend _other = null!;

    public async Task InitializeAsync()
    {
        _backend = await TestBackend.StartAsync("b");
        _other = await TestBackend.StartAsync("o");
    }

    public async Task DisposeAsync()
    {
        await _backend.DisposeAsync();
        await _other.DisposeAsync();
    }

    [Fact]
    public async Task A_routes_retry_replaces_the_services_for_its_requests_only()
    {
        using var host = Host(new()
        {
            ["Mesh:Services:inventory:Retry:MaxAttempts"] = "1",
            [$"{R}:0:Match:Path:Value"] = "/retried",
            [$"{R}:0:Retry:MaxAttempts"] = "3",
            [$"{R}:0:Retry:Backoff"] = "00:00:00",
            [$"{R}:0:Retry:MaxBackoff"] = "00:00:00",
        });
        var client = host.Client;

        _backend.Script(new TestBackend.Reply(HttpStatusCode.ServiceUnavailable), new TestBackend.Reply(HttpStatusCode.ServiceUnavailable));
        using (var retried = await client.GetAsync("http://inventory/retried"))
        {
            Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        }

        Assert.Equal(3, _backend.Requests);

        _backend.Script(new TestBackend.Reply(HttpStatusCode.ServiceUnavailable));
        using (var plain = await client.GetAsync("http://inventory/plain"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, plain.StatusCode);
        }

        Assert.Equal(4, _backend.Requests);
        Assert.Equal(2, host.Catalog.CountersOf("inventory").Retries);
    }

    [Fact]
    public async Task A_routes_retries_draw_on_the_services_budget()
    {
        using var host = Host(new()
        {
            ["Mesh:Services:inventory:Retry:Budget:Ratio"] = "0",
            ["Mesh:Services:inventory:Retry:Budget:MinPerSecond"] = "0",
            [$"{R}:0:Retry:MaxAttempts"] = "5",
            [$"{R}:0:Retry:Backoff"] = "00:00:00",
            [$"{R}:0:Retry:MaxBackoff"] = "00:00:00",
        });
        _backend.Status = HttpStatusCode.ServiceUnavailable;

        using var response = await host.Client.GetAsync("http://inventory/items");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(1, _backend.Requests);
        Assert.Equal(1, host.Catalog.CountersOf("inventory").BudgetExhausted);
        Assert.Equal(0, host.Catalog.CountersOf("inventory").Retries);
    }

    [Fact]
    public async Task Request_headers_are_removed_set_and_added_once_per_call_on_the_routes_requests_only()
    {
        using var host = Host(new()
        {
            [$"{R}:0:Match:Path:Value"] = "/changed",
            [$"{R}:0:Retry:Backoff"] = "00:00:00",
            [$"{R}:0:Retry:MaxBackoff"] = "00:00:00",
            [$"{R}:0:RequestHeaders:Remove:0"] = "x-secret",
            [$"{R}:0:RequestHeaders:Set:x-tier"] = "gold",
            [$"{R}:0:RequestHeaders:Add:x-extra"] = "added",
            [$"{R}:0:RequestHeaders:Set:Content-Language"] = "fr",
        });
        var client = host.Client;

        // The first attempt is answered 503 and retried: the second carries the changes once, not twice.
        _backend.Script(new TestBackend.Reply(HttpStatusCode.ServiceUnavailable));
        using var changed = await client.SendAsync(Request("/changed"));
        var echo = await TestBackend.ReadEchoAsync(changed);
        Assert.Equal(2, _backend.Requests);
        Assert.False(echo.Headers.ContainsKey("x-secret"));
        Assert.Equal("gold", echo.Headers["x-tier"]);
        Assert.Equal("mine, added", echo.Headers["x-extra"]);
        Assert.Equal("fr", echo.Headers["Content-Language"]);
        Assert.Equal("keep", echo.Headers["x-other"]);

        using var untouched = await client.SendAsync(Request("/untouched"));
        var plain = await TestBackend.ReadEchoAsync(untouched);
        Assert.Equal("s3cret", plain.Headers["x-secret"]);
        Assert.Equal("bronze", plain.Headers["x-tier"]);
        Assert.Equal("mine", plain.Headers["x-extra"]);
        Assert.Equal("en", plain.Headers["Content-Language"]);
    }

    [Fact]
    public async Task The_call_metric_names_the_route_only_for_a_service_with_routes()
    {
        var config = new Dictionary<string, string?>
        {
            [$"{R}:0:Name"] = "api",
            [$"{R}:0:Match:Path:Value"] = "/api",
            [$"{R}:1:Match:Path:Value"] = "/unnamed",
            ["Mesh:Services:catalog:Endpoints:0:Address"] = _other.Address.ToString(),
        };
        using var host = Host(config);
        using var durations = new MetricCollector<double>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.request.duration");
        var client = host.Client;

        await Load.GetOkAsync(client, "http://inventory/api/items");
        await Load.GetOkAsync(client, "http://inventory/unnamed");
        await Load.GetOkAsync(client, "http://inventory/elsewhere");
        await Load.GetOkAsync(client, "http://catalog/items");

        var calls = durations.GetMeasurementSnapshot();
        Assert.Equal(["api", "#1", ""], calls.Where(m => m.Tags["mesh.service"] as string == "inventory").Select(m => m.Tags["mesh.route"]));
        Assert.DoesNotContain("mesh.route", calls.Single(m => m.Tags["mesh.service"] as string == "catalog").Tags.Keys);
    }

    private static HttpRequestMessage Request(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, "http://inventory" + path) { Content = new StringContent("{}") };
        request.Headers.TryAddWithoutValidation("x-secret", "s3cret");
        request.Headers.TryAddWithoutValidation("x-tier", "bronze");
        request.Headers.TryAddWithoutValidation("x-extra", "mine");
        request.Headers.TryAddWithoutValidation("x-other", "keep");
        request.Content.Headers.ContentLanguage.Add("en");
        return request;
    }

    private MeshTestHost Host(Dictionary<string, string?> routes)
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0:Address"] = _backend.Address.ToString(),
            ["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false",
            ["Mesh:Services:inventory:CircuitBreaker:Enabled"] = "false",
        };
        foreach (var (key, value) in routes)
        {
            config[key] = value;
        }

        return MeshTestHost.Create(config);
    }
}
