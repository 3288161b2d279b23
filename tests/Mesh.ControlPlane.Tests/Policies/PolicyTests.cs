using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Meshd.Tests.Policies;

public sealed class PolicyTests
{
    [Fact]
    public async Task Put_get_patch_history_and_restore()
    {
        await using var meshd = await TestMeshd.StartAsync();

        var put = await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin", "Retry": { "MaxAttempts": 3 } }""");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(1, (long)(await put.Content.ReadFromJsonAsync<JsonObject>())!["version"]!);

        // Hedging switched on, then off, each with a small merge patch.
        var on = await meshd.Admin.PatchAsync("/v1/policies/inventory", TestMeshd.Json("""{ "Hedging": { "Delay": "00:00:00.050" } }""", "application/merge-patch+json"));
        Assert.Equal(HttpStatusCode.OK, on.StatusCode);
        var off = await meshd.Admin.PatchAsync("/v1/policies/inventory", TestMeshd.Json("""{ "Hedging": null, "Retry": { "MaxAttempts": 5 } }""", "application/merge-patch+json"));
        var patched = (await off.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(3, (long)patched["version"]!);
        Assert.Null(patched["policy"]!["Hedging"]);
        Assert.Equal(5, (int)patched["policy"]!["Retry"]!["MaxAttempts"]!);
        Assert.Equal("RoundRobin", (string?)patched["policy"]!["LoadBalancer"]);

        var got = (await meshd.Admin.GetFromJsonAsync<JsonObject>("/v1/policies/inventory"))!;
        Assert.Equal(3, (long)got["version"]!);
        Assert.Equal("inventory", (string?)got["service"]);
        Assert.NotNull(got["updatedAt"]);

        var history = (await meshd.Admin.GetFromJsonAsync<JsonArray>("/v1/policies/inventory/history"))!;
        Assert.Equal([3L, 2L, 1L], history.Select(h => (long)h!["version"]!));
        Assert.Equal("00:00:00.050", (string?)history[1]!["policy"]!["Hedging"]!["Delay"]);

        var restored = await meshd.Admin.PostAsync("/v1/policies/inventory/restore/2", null);
        Assert.Equal(HttpStatusCode.OK, restored.StatusCode);
        var four = (await restored.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(4, (long)four["version"]!);
        Assert.Equal("00:00:00.050", (string?)four["policy"]!["Hedging"]!["Delay"]);

        var snapshot = await meshd.SnapshotAsync();
        Assert.Equal(4, (long)snapshot["services"]!["inventory"]!["policyVersion"]!);
        Assert.Equal(3, (int)snapshot["services"]!["inventory"]!["policy"]!["Retry"]!["MaxAttempts"]!);

        var all = (await meshd.Admin.GetFromJsonAsync<JsonObject>("/v1/policies"))!;
        Assert.Equal(4, (long)all["inventory"]!["version"]!);

        Assert.Equal(HttpStatusCode.NotFound, (await meshd.Admin.PostAsync("/v1/policies/inventory/restore/9", null)).StatusCode);
    }

    [Fact]
    public async Task If_match_guards_a_write()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");

        using var stale = new HttpRequestMessage(HttpMethod.Put, "/v1/policies/inventory") { Content = TestMeshd.Json("""{ "LoadBalancer": "Random" }""") };
        stale.Headers.TryAddWithoutValidation("If-Match", "\"7\"");
        var refused = await meshd.Admin.SendAsync(stale);
        Assert.Equal(HttpStatusCode.PreconditionFailed, refused.StatusCode);
        Assert.Contains("version 1", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var current = new HttpRequestMessage(HttpMethod.Put, "/v1/policies/inventory") { Content = TestMeshd.Json("""{ "LoadBalancer": "Random" }""") };
        current.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
        Assert.Equal(HttpStatusCode.OK, (await meshd.Admin.SendAsync(current)).StatusCode);
        Assert.Equal("Random", (string?)(await meshd.Admin.GetFromJsonAsync<JsonObject>("/v1/policies/inventory"))!["policy"]!["LoadBalancer"]);
    }

    [Fact]
    public async Task Delete_makes_a_version_without_a_document()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");

        var deleted = await meshd.Admin.DeleteAsync("/v1/policies/inventory");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal(2, (long)(await deleted.Content.ReadFromJsonAsync<JsonObject>())!["version"]!);
        Assert.Equal(HttpStatusCode.NotFound, (await meshd.Admin.GetAsync("/v1/policies/inventory")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await meshd.Admin.DeleteAsync("/v1/policies/inventory")).StatusCode);
        Assert.Null((await meshd.SnapshotAsync())["services"]!["inventory"]);

        var restored = await meshd.Admin.PostAsync("/v1/policies/inventory/restore/1", null);
        Assert.Equal(3, (long)(await restored.Content.ReadFromJsonAsync<JsonObject>())!["version"]!);
    }
}
