using System.Net;
using Meshd.Tests.Infrastructure;

namespace Meshd.Tests.Security;

/// <summary>Credentials live in the shared store: one made through a replica works through another, and a revocation reaches it.</summary>
[Collection(EtcdGroup.Name)]
public sealed class CredentialReplicaTests(EtcdServer etcd)
{
    [Fact]
    public async Task A_credential_made_through_one_replica_is_taken_by_the_other_until_revoked_through_either()
    {
        using var directoryA = new TempDirectory();
        using var directoryB = new TempDirectory();
        var prefix = $"/mesh-test-{Guid.NewGuid():N}/";
        (string, string)[] shared = [("Meshd:Store", "etcd"), ("Meshd:Etcd:Endpoint", etcd.Endpoint.ToString()), ("Meshd:Etcd:Prefix", prefix)];
        await using var replicaA = await TestMeshd.StartAsync(TestMeshd.Settings(directoryA.Path, shared));
        await using var replicaB = await TestMeshd.StartAsync(TestMeshd.Settings(directoryB.Path, shared));

        var (id, token) = await replicaA.CreateCredentialAsync("orders");
        using var throughB = TestMeshd.Client(replicaB.Address, token);
        await Eventually.WaitAsync(async () => (await throughB.GetAsync("/v1/snapshot")).StatusCode == HttpStatusCode.OK, "replica B takes the credential made through A");
        Assert.Equal(HttpStatusCode.OK, (await throughB.PutAsync("/v1/services/orders/instances/o-1", TestMeshd.Json("""{ "address": "http://127.0.0.1:5001" }"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await throughB.PutAsync("/v1/services/payments/instances/p-1", TestMeshd.Json("""{ "address": "http://127.0.0.1:5002" }"""))).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await replicaA.Admin.DeleteAsync($"/v1/credentials/{id}")).StatusCode);
        await Eventually.WaitAsync(async () => (await throughB.GetAsync("/v1/snapshot")).StatusCode == HttpStatusCode.Unauthorized, "replica B refuses the credential revoked through A");
        Assert.Equal("[]", await replicaB.Admin.GetStringAsync("/v1/credentials"));
    }
}
