using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Meshd.Tests.Health;

/// <summary>Issue #15, item 5: /healthz and /readyz tell whether meshd can persist; a write it cannot persist is a clear 503.</summary>
public sealed class HealthTests
{
    [Fact]
    public async Task Health_follows_whether_the_data_directory_takes_writes_and_writes_get_a_503_saying_why()
    {
        using var parent = new TempDirectory();
        var data = Path.Combine(parent.Path, "data");
        var logs = new LogCollector();
        await using var meshd = await TestMeshd.StartAsync(
            TestMeshd.Settings(data, ("Meshd:HealthInterval", "00:00:00.100"), ("Meshd:LeaseTtl", "00:00:00.500"), ("Meshd:SweepInterval", "00:00:00.100")),
            services => services.AddLogging(b => b.AddProvider(logs)));
        using var anonymous = TestMeshd.Client(meshd.Address, null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/readyz")).StatusCode);
        await meshd.RegisterAsync("inventory", "short-lived", "http://127.0.0.1:5001");

        // The data directory goes away (a lost mount, say): nothing can be persisted.
        var away = Path.Combine(parent.Path, "away");
        Directory.Move(data, away);
        try
        {
            await Eventually.WaitAsync(async () => (await anonymous.GetAsync("/healthz")).StatusCode == HttpStatusCode.ServiceUnavailable, "/healthz reports the failing store");
            var health = (await (await anonymous.GetAsync("/healthz")).Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Equal("failing", (string?)health["status"]);
            Assert.Contains(data, (string?)health["checks"]!["store"], StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await anonymous.GetAsync("/readyz")).StatusCode);

            var refused = await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.True(refused.Headers.RetryAfter is not null);
            Assert.Contains(data, (string?)(await refused.Content.ReadFromJsonAsync<JsonObject>())!["detail"], StringComparison.Ordinal);

            // The lapsed lease cannot be removed, and health says so.
            await Eventually.WaitAsync(
                async () => (string?)(await (await anonymous.GetAsync("/healthz")).Content.ReadFromJsonAsync<JsonObject>())!["checks"]!["leaseSweep"] != "ok",
                "/healthz reports the failing lease sweep");
        }
        finally
        {
            Directory.Move(away, data);
        }

        await Eventually.WaitAsync(async () => (await anonymous.GetAsync("/healthz")).StatusCode == HttpStatusCode.OK, "/healthz recovers");
        await Eventually.WaitAsync(async () => (await meshd.SnapshotAsync())["services"]!["inventory"] is null, "the lapsed instance is removed once the store takes writes");
        Assert.Equal(HttpStatusCode.OK, (await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/readyz")).StatusCode);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error && e.Exception is not null);
    }
}
