using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Contract;

namespace Meshd.Tests.Api;

/// <summary><c>GET /v1/services</c> and <c>GET /v1/services/{name}</c>: what meshd knows of each service, for the admin.</summary>
public sealed class ServiceListTests
{
    [Fact]
    public async Task Every_service_of_the_registry_or_the_policies_is_listed_by_name_with_its_instances_leases_and_policy_version()
    {
        await using var meshd = await TestMeshd.StartAsync();
        var registering = DateTimeOffset.UtcNow;
        Assert.Equal(HttpStatusCode.OK, (await meshd.RegisterAsync("orders", "ord-2", "http://127.0.0.1:5102")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await meshd.Workload.PutAsync(
            new Uri("/v1/services/orders/instances/ord-1", UriKind.Relative),
            TestMeshd.Json("""{ "address": "http://127.0.0.1:5101", "zone": "b", "labels": { "version": "v2" }, "weight": 3 }"""))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5201")).StatusCode);
        Assert.True((await meshd.PutPolicyAsync("billing", """{ "Timeout": "00:00:02" }""")).IsSuccessStatusCode);
        Assert.True((await meshd.PutPolicyAsync("orders", """{ "LoadBalancer": "RoundRobin" }""")).IsSuccessStatusCode);
        Assert.True((await meshd.PatchPolicyAsync("orders", """{ "Timeout": "00:00:03" }""")).IsSuccessStatusCode);
        var before = DateTimeOffset.UtcNow;

        using var response = await meshd.Admin.GetAsync(new Uri("/v1/services", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var list = (await response.Content.ReadFromJsonAsync(ControlPlaneJson.Default.ServiceListDocument))!;

        Assert.Equal(["billing", "inventory", "orders"], list.Services.Select(s => s.Name));
        var billing = list.Services[0];
        Assert.Empty(billing.Instances);
        var billingPolicy = (await meshd.Admin.GetFromJsonAsync<JsonObject>(new Uri("/v1/policies/billing", UriKind.Relative)))!;
        Assert.Equal((long)billingPolicy["version"]!, billing.PolicyVersion);

        Assert.Null(list.Services[1].PolicyVersion);
        var orders = list.Services[2];
        var ordersPolicy = (await meshd.Admin.GetFromJsonAsync<JsonObject>(new Uri("/v1/policies/orders", UriKind.Relative)))!;
        Assert.Equal((long)ordersPolicy["version"]!, orders.PolicyVersion);
        Assert.NotEqual(billing.PolicyVersion, orders.PolicyVersion);
        Assert.Equal(["ord-1", "ord-2"], orders.Instances.Select(i => i.InstanceId));
        var first = orders.Instances[0];
        Assert.Equal("http://127.0.0.1:5101", first.Address);
        Assert.Equal("b", first.Zone);
        Assert.Equal("v2", first.Labels!["version"]);
        Assert.Equal(3, first.Weight);
        Assert.Equal(1, orders.Instances[1].Weight);

        // The lease: about one TTL (10 s by default) from the registration, never in the past.
        Assert.InRange(first.LeaseExpiresAt, before, before + TimeSpan.FromSeconds(11));
        Assert.Equal(TimeSpan.FromSeconds(10), first.LeaseExpiresAt - first.LeaseRenewedAt);
        Assert.InRange(first.LeaseRenewedAt!.Value, registering, before);

        // A service known only from its policy has "policyVersion" written, null included, so a reader can tell.
        var raw = (await meshd.Admin.GetFromJsonAsync<JsonObject>(new Uri("/v1/services", UriKind.Relative)))!;
        var inventory = raw["services"]![1]!.AsObject();
        Assert.True(inventory.ContainsKey("policyVersion"));
        Assert.Null(inventory["policyVersion"]);
    }

    [Fact]
    public async Task A_renewal_moves_the_lease_expiry_and_a_deregistered_service_leaves_the_list()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("orders", "ord-1", "http://127.0.0.1:5101");
        var registered = await ServiceAsync(meshd, "orders");

        await Eventually.WaitAsync(
            async () => await meshd.RenewAsync("orders", "ord-1") && (await ServiceAsync(meshd, "orders")).Instances[0].LeaseExpiresAt > registered.Instances[0].LeaseExpiresAt,
            "a renewal moves the lease expiry later");
        var renewed = (await ServiceAsync(meshd, "orders")).Instances[0];
        Assert.True(renewed.LeaseRenewedAt > registered.Instances[0].LeaseRenewedAt, "the renewal time moves with it");

        Assert.Equal(HttpStatusCode.NoContent, (await meshd.DeregisterAsync("orders", "ord-1")).StatusCode);
        var list = (await meshd.Admin.GetFromJsonAsync(new Uri("/v1/services", UriKind.Relative), ControlPlaneJson.Default.ServiceListDocument))!;
        Assert.Empty(list.Services);
    }

    [Fact]
    public async Task One_service_is_read_by_name_ignoring_case_and_an_unknown_one_is_a_404_naming_it()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("orders", "ord-1", "http://127.0.0.1:5101");

        var orders = await ServiceAsync(meshd, "Orders");
        Assert.Equal("orders", orders.Name);
        Assert.Equal("ord-1", Assert.Single(orders.Instances).InstanceId);
        Assert.Null(orders.PolicyVersion);

        using var missing = await meshd.Admin.GetAsync(new Uri("/v1/services/payments", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        var problem = (await missing.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Contains("'payments'", (string?)problem["detail"], StringComparison.Ordinal);

        using var bad = await meshd.Admin.GetAsync(new Uri("/v1/services/no_such%20name", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.NotNull((await bad.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!["service"]);
    }

    [Fact]
    public async Task The_list_needs_the_admin_token_not_the_workload_token()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("orders", "ord-1", "http://127.0.0.1:5101");
        using var anonymous = TestMeshd.Client(meshd.Address, token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(new Uri("/v1/services", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await meshd.Workload.GetAsync(new Uri("/v1/services", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await meshd.Workload.GetAsync(new Uri("/v1/services/orders", UriKind.Relative))).StatusCode);
    }

    private static async Task<ServiceStatusDocument> ServiceAsync(TestMeshd meshd, string name) =>
        (await meshd.Admin.GetFromJsonAsync(new Uri($"/v1/services/{name}", UriKind.Relative), ControlPlaneJson.Default.ServiceStatusDocument))!;
}
