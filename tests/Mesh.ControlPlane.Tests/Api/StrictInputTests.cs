using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Meshd.Tests.Api;

/// <summary>Issue #15, items 7 and 8: answers that were 500, and writes that were taken but should not have been.</summary>
public sealed class StrictInputTests
{
    [Theory]
    [InlineData("NaN")]
    [InlineData("-Infinity")]
    [InlineData("Infinity")]
    [InlineData("-1")]
    public async Task A_wait_that_is_not_a_finite_number_of_seconds_is_a_400_naming_wait(string wait)
    {
        await using var meshd = await TestMeshd.StartAsync();
        var version = (long)(await meshd.SnapshotAsync())["version"]!;

        var response = await meshd.Workload.GetAsync($"/v1/snapshot?since={version}&wait={Uri.EscapeDataString(wait)}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject().ContainsKey("wait"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_body_shorter_than_its_content_length_is_never_a_500_and_stores_nothing(bool clientHalfCloses)
    {
        var logs = new LogCollector();
        using var directory = new TempDirectory();
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path), services => services.AddLogging(b => b.AddProvider(logs)));
        using var socket = await LoopbackClients.ConnectAsync(meshd.Address);
        var head = $"PUT /v1/policies/inventory HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TestMeshd.AdminToken}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head + "{ \"LoadBalancer\": "));
        if (clientHalfCloses)
        {
            socket.Shutdown(SocketShutdown.Send);
        }

        // Half-closed: the request can never complete; stalled: Kestrel's minimum body rate ends it (408).
        var answer = await LoopbackClients.ReadToCloseAsync(socket, TimeSpan.FromSeconds(30));

        Assert.NotNull(answer);
        Assert.True(clientHalfCloses ? answer.Length == 0 || answer.StartsWith("HTTP/1.1 4", StringComparison.Ordinal) : answer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), answer);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.Equal(HttpStatusCode.NotFound, (await meshd.Admin.GetAsync("/v1/policies/inventory")).StatusCode);
    }

    [Fact]
    public async Task Concurrent_registrations_of_one_instance_on_one_meshd_never_get_409()
    {
        await using var meshd = await TestMeshd.StartAsync();
        var bodies = Enumerable.Range(0, 50).Select(i => $$"""{ "address": "http://127.0.0.1:{{5000 + i}}" }""").ToArray();

        var answers = await Task.WhenAll(bodies.Select(b => meshd.Workload.PutAsync("/v1/services/inventory/instances/inv-1", TestMeshd.Json(b))));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        var instances = (await meshd.SnapshotAsync())["services"]!["inventory"]!["instances"]!.AsArray();
        var address = (string?)Assert.Single(instances)!["address"];
        Assert.Contains(bodies, b => b.Contains(address!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_upper_case_policy_write_leaves_the_lower_case_policy_alone_and_reads_ignore_case()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.PutPolicyAsync("back", """{ "LoadBalancer": "RoundRobin" }""");

        var refused = await meshd.PutPolicyAsync("Back", """{ "LoadBalancer": "Random" }""");

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("'back'", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var kept = (await meshd.Admin.GetFromJsonAsync<JsonObject>("/v1/policies/Back"))!;
        Assert.Equal("back", (string?)kept["service"]);
        Assert.Equal("RoundRobin", (string?)kept["policy"]!["LoadBalancer"]);
        Assert.Equal(1, (long)kept["version"]!);
    }

    [Fact]
    public async Task A_merge_patch_on_a_service_without_a_policy_is_a_404_and_creates_nothing()
    {
        await using var meshd = await TestMeshd.StartAsync();

        var patch = await meshd.PatchPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");

        Assert.Equal(HttpStatusCode.NotFound, patch.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await meshd.Admin.GetAsync("/v1/policies/inventory")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await meshd.Admin.GetAsync("/v1/policies/inventory/history")).StatusCode);
        Assert.Null((await meshd.SnapshotAsync())["services"]!["inventory"]);
    }

    [Fact]
    public async Task A_merge_patch_that_changes_nothing_makes_no_version()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin", "Retry": { "MaxAttempts": 3 } }""");
        var version = (long)(await meshd.SnapshotAsync())["version"]!;

        var empty = await meshd.PatchPolicyAsync("inventory", "{}");
        var same = await meshd.PatchPolicyAsync("inventory", """{ "retry": { "maxAttempts": 3 } }""");

        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        Assert.Equal(1, (long)(await empty.Content.ReadFromJsonAsync<JsonObject>())!["version"]!);
        Assert.Equal(HttpStatusCode.OK, same.StatusCode);
        Assert.Equal(1, (long)(await same.Content.ReadFromJsonAsync<JsonObject>())!["version"]!);
        Assert.Single((await meshd.Admin.GetFromJsonAsync<JsonArray>("/v1/policies/inventory/history"))!);
        Assert.Equal(version, (long)(await meshd.SnapshotAsync())["version"]!);
    }

    [Fact]
    public async Task A_merge_patch_in_another_case_changes_the_field_instead_of_adding_a_second_one()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.PutPolicyAsync("inventory", """{ "Retry": { "MaxAttempts": 3 } }""");

        var patched = await meshd.PatchPolicyAsync("inventory", """{ "retry": { "maxattempts": 5 } }""");

        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var policy = (await meshd.Admin.GetFromJsonAsync<JsonObject>("/v1/policies/inventory"))!["policy"]!.AsObject();
        Assert.Equal("""{"Retry":{"MaxAttempts":5}}""", policy.ToJsonString());
    }

    [Fact]
    public async Task Restore_honours_if_match()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");
        await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "Random" }""");

        using var stale = new HttpRequestMessage(HttpMethod.Post, "/v1/policies/inventory/restore/1");
        stale.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
        var refused = await meshd.Admin.SendAsync(stale);
        using var current = new HttpRequestMessage(HttpMethod.Post, "/v1/policies/inventory/restore/1");
        current.Headers.TryAddWithoutValidation("If-Match", "\"2\"");
        var restored = await meshd.Admin.SendAsync(current);

        Assert.Equal(HttpStatusCode.PreconditionFailed, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, restored.StatusCode);
        Assert.Equal(3, (long)(await restored.Content.ReadFromJsonAsync<JsonObject>())!["version"]!);
    }

    [Fact]
    public async Task Instance_addresses_can_be_held_to_networks_host_names_or_the_callers_own_address()
    {
        await using (var networks = await TestMeshd.StartAsync(("Meshd:Registry:AllowedNetworks", "127.0.0.0/8, 10.1.0.0/16"), ("Meshd:Registry:AllowedHostNames", "*.mesh.internal")))
        {
            Assert.Equal(HttpStatusCode.OK, (await networks.RegisterAsync("inventory", "a", "http://10.1.2.3:80")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await networks.RegisterAsync("inventory", "b", "http://inv-2.mesh.internal:80")).StatusCode);
            var outside = await networks.RegisterAsync("inventory", "c", "http://10.2.0.1:80");
            Assert.Equal(HttpStatusCode.BadRequest, outside.StatusCode);
            Assert.Contains("AllowedNetworks", await outside.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.BadRequest, (await networks.RegisterAsync("inventory", "d", "http://example.org:80")).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await networks.RegisterAsync("inventory", "e", "http://169.254.169.254")).StatusCode);
        }

        await using var own = await TestMeshd.StartAsync(("Meshd:Registry:AddressMustMatchCaller", "true"));
        using var fromTwo = TestMeshd.ClientFrom(own.Address, TestMeshd.WorkloadToken, IPAddress.Parse("127.0.0.2"));
        Assert.Equal(HttpStatusCode.OK, (await fromTwo.PutAsync("/v1/services/inventory/instances/a", TestMeshd.Json("""{ "address": "http://127.0.0.2:5001" }"""))).StatusCode);
        var other = await fromTwo.PutAsync("/v1/services/inventory/instances/b", TestMeshd.Json("""{ "address": "http://127.0.0.3:5001" }"""));
        Assert.Equal(HttpStatusCode.BadRequest, other.StatusCode);
        Assert.True((await other.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject().ContainsKey("address"));
        Assert.Equal(HttpStatusCode.BadRequest, (await fromTwo.PutAsync("/v1/services/inventory/instances/c", TestMeshd.Json("""{ "address": "http://localhost:5001" }"""))).StatusCode);
        var instances = (await own.SnapshotAsync())["services"]!["inventory"]!["instances"]!.AsArray();
        Assert.Equal("a", (string?)Assert.Single(instances)!["instanceId"]);
    }
}
