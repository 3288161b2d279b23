using System.Net;
using System.Net.Http.Json;

namespace Meshd.Tests.Fleet;

/// <summary>The read-only token (<c>Meshd:ReaderToken</c>): it reads what the dashboard and meshctl read, and writes nothing.</summary>
public sealed class ReaderTokenTests
{
    private const string Reader = "test-reader-token";

    [Fact]
    public async Task The_read_only_token_reads_services_policies_the_fleet_status_snapshot_and_metrics()
    {
        await using var meshd = await TestMeshd.StartAsync(("Meshd:ReaderToken", Reader));
        await meshd.RegisterAsync("orders", "ord-1", "http://127.0.0.1:5101");
        await meshd.PutPolicyAsync("orders", """{ "Timeout": "00:00:02" }""");
        using var reader = TestMeshd.Client(meshd.Address, Reader);

        foreach (var path in new[] { "/v1/services", "/v1/services/orders", "/v1/policies", "/v1/policies/orders", "/v1/policies/orders/history", "/v1/fleet/stats", "/v1/status", "/v1/snapshot", "/metrics" })
        {
            using var response = await reader.GetAsync(new Uri(path, UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode}");
        }

        // The authorization check is a POST that only asks a question: the read-only token may ask it, a workload may not.
        var question = """{ "service": "orders", "caller": "gateway", "method": "GET", "path": "/orders" }""";
        using var asked = await reader.PostAsync(new Uri("/v1/authorization/check", UriKind.Relative), TestMeshd.Json(question));
        Assert.Equal(HttpStatusCode.OK, asked.StatusCode);
        Assert.True((await asked.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>())!.ContainsKey("allowed"));
        Assert.Equal(HttpStatusCode.Forbidden, (await meshd.Workload.PostAsync(new Uri("/v1/authorization/check", UriKind.Relative), TestMeshd.Json(question))).StatusCode);
    }

    [Fact]
    public async Task The_read_only_token_is_refused_on_every_write_and_on_what_only_workloads_or_the_admin_do()
    {
        await using var meshd = await TestMeshd.StartAsync(("Meshd:ReaderToken", Reader));
        await meshd.PutPolicyAsync("orders", """{ "Timeout": "00:00:02" }""");
        using var reader = TestMeshd.Client(meshd.Address, Reader);

        var writes = new (HttpMethod Method, string Path, string? Body)[]
        {
            (HttpMethod.Put, "/v1/policies/orders", """{ "Timeout": "00:00:03" }"""),
            (HttpMethod.Patch, "/v1/policies/orders", """{ "Timeout": "00:00:03" }"""),
            (HttpMethod.Delete, "/v1/policies/orders", null),
            (HttpMethod.Post, "/v1/policies/orders/restore/1", null),
            (HttpMethod.Put, "/v1/services/orders/instances/ord-1", """{ "address": "http://127.0.0.1:5101" }"""),
            (HttpMethod.Post, "/v1/services/orders/instances/ord-1/renew", null),
            (HttpMethod.Delete, "/v1/services/orders/instances/ord-1", null),
            (HttpMethod.Post, "/v1/credentials", """{ "service": "orders" }"""),
            (HttpMethod.Get, "/v1/credentials", null),
            (HttpMethod.Get, "/v1/identity/bundle", null),
        };
        foreach (var (method, path, body) in writes)
        {
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = body is null ? null : TestMeshd.Json(body, method == HttpMethod.Patch ? "application/merge-patch+json" : "application/json") };
            using var response = await reader.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {path}: {(int)response.StatusCode}");
        }

        Assert.Equal(1L, (long)(await meshd.Admin.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>(new Uri("/v1/policies/orders", UriKind.Relative)))!["version"]!);
        Assert.Empty((await FleetReportTests.StatsAsync(meshd)).Services);
    }

    [Fact]
    public async Task Without_a_configured_read_only_token_there_is_none_and_one_equal_to_the_admin_token_stops_the_start()
    {
        await using (var meshd = await TestMeshd.StartAsync())
        {
            using var guess = TestMeshd.Client(meshd.Address, Reader);
            Assert.Equal(HttpStatusCode.Unauthorized, (await guess.GetAsync(new Uri("/v1/services", UriKind.Relative))).StatusCode);
        }

        var failure = await Assert.ThrowsAsync<MeshdStartupException>(() => TestMeshd.StartAsync(("Meshd:ReaderToken", TestMeshd.AdminToken)));
        Assert.Contains("Meshd:ReaderToken", failure.Message, StringComparison.Ordinal);
    }
}
