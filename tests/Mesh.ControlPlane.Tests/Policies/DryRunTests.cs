using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Meshd.Tests.Policies;

/// <summary><c>?dryRun=true</c> on policy writes: the validator's verdict and the version a write would make, with nothing stored.</summary>
public sealed class DryRunTests
{
    [Fact]
    public async Task A_dry_run_put_or_patch_answers_with_the_result_and_next_version_and_stores_nothing()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.PutPolicyAsync("orders", """{ "Timeout": "00:00:02" }""");
        var snapshotBefore = meshd.State.Head.Snapshot.Version;

        using var put = await meshd.Admin.PutAsync(new Uri("/v1/policies/orders?dryRun=true", UriKind.Relative), TestMeshd.Json("""{ "Timeout": "00:00:05" }"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var answer = (await put.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal((true, 2L, "00:00:05"), ((bool)answer["dryRun"]!, (long)answer["version"]!, (string)answer["policy"]!["Timeout"]!));

        using var patch = await meshd.Admin.PatchAsync(new Uri("/v1/policies/orders?dryRun=true", UriKind.Relative), TestMeshd.Json("""{ "LoadBalancer": "RoundRobin" }""", "application/merge-patch+json"));
        var patched = (await patch.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(("00:00:02", "RoundRobin"), ((string)patched["policy"]!["Timeout"]!, (string)patched["policy"]!["LoadBalancer"]!));

        var stored = (await meshd.Admin.GetFromJsonAsync<JsonObject>(new Uri("/v1/policies/orders", UriKind.Relative)))!;
        Assert.Equal((1L, "00:00:02"), ((long)stored["version"]!, (string)stored["policy"]!["Timeout"]!));
        Assert.False(stored["policy"]!.AsObject().ContainsKey("LoadBalancer"));
        Assert.Single((await meshd.Admin.GetFromJsonAsync<JsonArray>(new Uri("/v1/policies/orders/history", UriKind.Relative)))!);
        Assert.Equal(snapshotBefore, meshd.State.Head.Snapshot.Version);

        // A dry run of a policy meshd does not have yet stores nothing either.
        using var fresh = await meshd.Admin.PutAsync(new Uri("/v1/policies/billing?dryRun=true", UriKind.Relative), TestMeshd.Json("""{ "Timeout": "00:00:01" }"""));
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await meshd.Admin.GetAsync(new Uri("/v1/policies/billing", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task A_dry_run_of_an_invalid_policy_gets_the_validators_errors_and_a_stale_if_match_its_412()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.PutPolicyAsync("orders", """{ "Timeout": "00:00:02" }""");

        using var invalid = await meshd.Admin.PutAsync(new Uri("/v1/policies/orders?dryRun=true", UriKind.Relative), TestMeshd.Json("""{ "LoadBalancer": "Fastest" }"""));
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.True((await invalid.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject().ContainsKey("LoadBalancer"));

        using var stale = new HttpRequestMessage(HttpMethod.Put, new Uri("/v1/policies/orders?dryRun=true", UriKind.Relative)) { Content = TestMeshd.Json("""{ "Timeout": "00:00:05" }""") };
        stale.Headers.TryAddWithoutValidation("If-Match", "\"7\"");
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await meshd.Admin.SendAsync(stale)).StatusCode);

        using var bad = await meshd.Admin.PutAsync(new Uri("/v1/policies/orders?dryRun=maybe", UriKind.Relative), TestMeshd.Json("""{ "Timeout": "00:00:05" }"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True((await bad.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject().ContainsKey("dryRun"));
    }
}
