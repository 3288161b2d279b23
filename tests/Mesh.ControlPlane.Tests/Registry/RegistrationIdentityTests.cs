using System.Net;

namespace Meshd.Tests.Registry;

/// <summary>An instance registers the SPIFFE ID it presents; the snapshot tells callers which identity to expect of it.</summary>
public sealed class RegistrationIdentityTests
{
    [Fact]
    public async Task The_identity_registered_is_served_in_the_snapshot_and_registering_the_same_again_makes_no_new_version()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();
        const string Body = """{ "address": "https://127.0.0.1:5001", "identity": "spiffe://mesh.local/svc/orders" }""";

        Assert.Equal(HttpStatusCode.OK, (await meshd.Workload.PutAsync("/v1/services/Orders/instances/o-1", TestMeshd.Json(Body))).StatusCode);
        var snapshot = await meshd.SnapshotAsync();
        var instance = snapshot["services"]!["orders"]!["instances"]![0]!;
        Assert.Equal("spiffe://mesh.local/svc/orders", (string?)instance["identity"]);
        Assert.Equal("https://127.0.0.1:5001", (string?)instance["address"]);

        Assert.Equal(HttpStatusCode.OK, (await meshd.Workload.PutAsync("/v1/services/orders/instances/o-1", TestMeshd.Json(Body))).StatusCode);
        Assert.Equal((long)snapshot["version"]!, (long)(await meshd.SnapshotAsync())["version"]!);

        // Without an identity the instance serves without mesh identity, and the snapshot says so.
        Assert.Equal(HttpStatusCode.OK, (await meshd.Workload.PutAsync("/v1/services/orders/instances/o-1", TestMeshd.Json("""{ "address": "http://127.0.0.1:5001" }"""))).StatusCode);
        Assert.Null((await meshd.SnapshotAsync())["services"]!["orders"]!["instances"]![0]!["identity"]);
    }
}
