using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Contract;
using Microsoft.Extensions.Time.Testing;

namespace Meshd.Tests.Fleet;

/// <summary>
/// Reports sent with lease renewals: kept per instance, compared with meshd's policies (applied versions, lag,
/// overridden keys, certificate expiry), joined into who calls and who ejects whom, and added up into the fleet's
/// golden metrics.
/// </summary>
public sealed class FleetReportTests
{
    [Fact]
    public async Task An_instance_that_runs_an_older_policy_version_lags_until_its_report_says_it_caught_up()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("orders", "ord-1", "http://127.0.0.1:5101");
        await meshd.RegisterAsync("orders", "ord-2", "http://127.0.0.1:5102");
        await meshd.PutPolicyAsync("orders", """{ "Timeout": "00:00:02" }""");
        await meshd.PutPolicyAsync("inventory", """{ "Timeout": "00:00:02" }""");
        await meshd.PatchPolicyAsync("inventory", """{ "Timeout": "00:00:03" }""");
        var expiry = DateTimeOffset.Parse("2027-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal(HttpStatusCode.OK, (await meshd.ReportAsync("orders", "ord-1", $$"""
            { "snapshotVersion": 9, "policies": [ { "service": "orders", "policyVersion": 1 }, { "service": "inventory", "policyVersion": 2 } ],
              "overriddenKeys": [ "Mesh:Services:inventory:Retry:MaxAttempts" ], "certificateExpiresAt": "{{expiry:O}}" }
            """)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await meshd.ReportAsync("orders", "ord-2", """
            { "snapshotVersion": 7, "policies": [ { "service": "orders", "policyVersion": 1 }, { "service": "inventory", "policyVersion": 1 } ] }
            """)).StatusCode);

        var orders = await ServiceAsync(meshd, "orders");
        Assert.False(orders.Converged);
        var first = orders.Instances.Single(i => i.InstanceId == "ord-1").Report!;
        Assert.True(first.Converged);
        Assert.Empty(first.Lagging);
        Assert.Equal(9, first.SnapshotVersion);
        Assert.Equal(["Mesh:Services:inventory:Retry:MaxAttempts"], first.OverriddenKeys);
        Assert.Equal(expiry, first.CertificateExpiresAt);
        var second = orders.Instances.Single(i => i.InstanceId == "ord-2").Report!;
        Assert.False(second.Converged);
        Assert.Equal([new PolicyLagDocument("inventory", 1, 2)], second.Lagging);

        await meshd.ReportAsync("orders", "ord-2", """{ "snapshotVersion": 9, "policies": [ { "service": "orders", "policyVersion": 1 }, { "service": "Inventory", "policyVersion": 2 } ] }""");
        orders = await ServiceAsync(meshd, "orders");
        Assert.True(orders.Converged);
        Assert.All(orders.Instances, i => Assert.True(i.Report!.Converged));

        // A new version of a policy makes every instance lag again until it reports the new one.
        await meshd.PatchPolicyAsync("orders", """{ "Timeout": "00:00:04" }""");
        orders = await ServiceAsync(meshd, "orders");
        Assert.False(orders.Converged);
        Assert.All(orders.Instances, i => Assert.Equal([new PolicyLagDocument("orders", 1, 2)], i.Report!.Lagging));
    }

    [Fact]
    public async Task An_instance_that_never_reported_has_no_report_and_keeps_its_service_from_being_converged()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("orders", "ord-1", "http://127.0.0.1:5101");
        Assert.True(await meshd.RenewAsync("orders", "ord-1"));

        var orders = await ServiceAsync(meshd, "orders");
        Assert.Null(orders.Instances[0].Report);
        Assert.False(orders.Converged);
        Assert.Empty(orders.Callers!);
        Assert.Empty(orders.Instances[0].EjectedBy!);
    }

    [Fact]
    public async Task A_report_past_its_bounds_is_refused_naming_the_field_and_the_last_good_one_is_kept()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("orders", "ord-1", "http://127.0.0.1:5101");
        await meshd.ReportAsync("orders", "ord-1", """{ "snapshotVersion": 3 }""");

        var tooMany = string.Join(", ", Enumerable.Range(0, InstanceReportLimits.Policies + 1).Select(i => $$"""{ "service": "s{{i}}", "policyVersion": 1 }"""));
        var cases = new (string Report, string Field)[]
        {
            ($$"""{ "snapshotVersion": 4, "policies": [ {{tooMany}} ] }""", "policies"),
            ("""{ "snapshotVersion": 4, "outbound": [ { "peer": "inventory", "requests": 3, "successes": 3, "seconds": 60, "latency": [ 1, 1 ] } ] }""", "outbound[0].latency"),
            ("""{ "snapshotVersion": 4, "inbound": [ { "peer": "orders", "requests": 2, "successes": 3, "seconds": 60, "latency": [ 2 ] } ] }""", "inbound[0].successes"),
            ("""{ "snapshotVersion": 4, "inbound": [ { "peer": "or ders", "requests": 0, "successes": 0, "seconds": 60 } ] }""", "inbound[0].peer"),
            ("""{ "snapshotVersion": 4, "outbound": [ { "peer": "a", "requests": 0, "successes": 0, "seconds": 0 } ] }""", "outbound[0].seconds"),
            ("""{ "snapshotVersion": -1 }""", "snapshotVersion"),
            ("""{ "snapshotVersion": 4, "overriddenKeys": [ "" ] }""", "overriddenKeys[0]"),
            ("""{ "snapshotVersion": "four" }""", "snapshotVersion"),
            ("""[ 1, 2 ]""", "$"),
        };
        foreach (var (report, field) in cases)
        {
            using var refused = await meshd.ReportAsync("orders", "ord-1", report);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var problem = (await refused.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.True(problem["errors"]!.AsObject().ContainsKey(field), $"{field} is named in {problem.ToJsonString()}");
        }

        using var wrongType = await meshd.Workload.PostAsync(new Uri("/v1/services/orders/instances/ord-1/renew", UriKind.Relative), TestMeshd.Json("{}", "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, wrongType.StatusCode);
        Assert.Equal(3, (await ServiceAsync(meshd, "orders")).Instances[0].Report!.SnapshotVersion);
    }

    [Fact]
    public async Task A_report_for_an_instance_not_registered_is_not_kept_and_a_deregistered_instance_takes_its_report_along()
    {
        await using var meshd = await TestMeshd.StartAsync();
        using var unknown = await meshd.ReportAsync("orders", "ghost", """{ "snapshotVersion": 1, "inbound": [ { "peer": "gateway", "requests": 1, "successes": 1, "seconds": 60, "latency": [ 1 ] } ] }""");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Empty((await StatsAsync(meshd)).Services);

        await meshd.RegisterAsync("orders", "ord-1", "http://127.0.0.1:5101");
        await meshd.ReportAsync("orders", "ord-1", """{ "snapshotVersion": 1, "inbound": [ { "peer": "gateway", "requests": 1, "successes": 1, "seconds": 60, "latency": [ 1 ] } ] }""");
        Assert.Single((await StatsAsync(meshd)).Services);
        await meshd.DeregisterAsync("orders", "ord-1");
        Assert.Empty((await StatsAsync(meshd)).Services);

        await meshd.RegisterAsync("orders", "ord-1", "http://127.0.0.1:5101");
        Assert.Null((await ServiceAsync(meshd, "orders")).Instances[0].Report);
    }

    [Fact]
    public async Task Golden_metrics_add_up_across_instances_per_service_and_per_edge_with_quantiles_from_the_merged_buckets()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5201");
        await meshd.RegisterAsync("inventory", "inv-2", "http://127.0.0.1:5202");
        await meshd.RegisterAsync("orders", "ord-1", "http://127.0.0.1:5101");

        // inv-1: 10 calls from orders, all in bucket 10 (≤ 0.93 ms); inv-2: 10 from orders in bucket 20 (≤ 8.67 ms), 2 failed,
        // and 5 from gateway (which reports nothing itself) in bucket 30.
        await meshd.ReportAsync("inventory", "inv-1", Report(inbound: [Traffic("orders", 10, 10, 60, bucket: 10)]));
        await meshd.ReportAsync("inventory", "inv-2", Report(inbound: [Traffic("orders", 10, 8, 30, bucket: 20), Traffic("gateway", 5, 5, 30, bucket: 30)]));
        // ord-1 saw its 20 calls to inventory, all in bucket 12: the client's view of the edge wins over the servers'.
        await meshd.ReportAsync("orders", "ord-1", Report(outbound: [Traffic("inventory", 20, 18, 60, bucket: 12)]));

        var stats = await StatsAsync(meshd);
        var inventory = Assert.Single(stats.Services);
        Assert.Equal("inventory", inventory.Service);
        Assert.Equal(2, inventory.Instances);
        Assert.Equal(25, inventory.Requests);
        Assert.Equal((10 / 60.0) + (15 / 30.0), inventory.RequestsPerSecond, 9);
        Assert.Equal(23 / 25.0, inventory.SuccessRate, 9);
        Assert.Equal(Bound(20), inventory.P50Ms, 9);   // rank 13 of 25: past the 10 in bucket 10
        Assert.Equal(Bound(30), inventory.P99Ms, 9);

        Assert.Equal(
            [("gateway", "inventory", "server", 5L), ("orders", "inventory", "client", 20L)],
            stats.Edges.Select(e => (e.Caller, e.Service, e.Source, e.Requests)));
        var ordersEdge = stats.Edges[1];
        Assert.Equal(18 / 20.0, ordersEdge.SuccessRate, 9);
        Assert.Equal(Bound(12), ordersEdge.P50Ms, 9);
        Assert.Equal(Bound(12), ordersEdge.P99Ms, 9);

        var service = await ServiceAsync(meshd, "inventory");
        Assert.Equal(["gateway", "orders"], service.Callers);
        var inv2 = service.Instances.Single(i => i.InstanceId == "inv-2").Report!;
        Assert.Equal(["gateway", "orders"], inv2.Inbound.Select(p => p.Peer).Order(StringComparer.Ordinal));
        var fromOrders = inv2.Inbound.Single(p => p.Peer == "orders");
        Assert.Equal((10, 10 / 30.0, 0.8, Bound(20)), (fromOrders.Requests, fromOrders.RequestsPerSecond, fromOrders.SuccessRate, fromOrders.P99Ms));
    }

    [Fact]
    public async Task Traffic_older_than_a_minute_stops_counting_while_what_the_instance_runs_stays_shown()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var directory = new TempDirectory("meshd-");
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path, ("Meshd:LeaseTtl", "01:00:00")), TestMeshd.Clock(time));
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5201");
        await meshd.ReportAsync("inventory", "inv-1", Report(inbound: [Traffic("orders", 4, 4, 60, bucket: 5)], snapshotVersion: 6));
        Assert.Equal(4, Assert.Single((await StatsAsync(meshd)).Services).Requests);

        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Empty((await StatsAsync(meshd)).Services);
        Assert.Empty((await StatsAsync(meshd)).Edges);
        var service = await ServiceAsync(meshd, "inventory");
        Assert.Equal(6, service.Instances[0].Report!.SnapshotVersion);
        Assert.Empty(service.Callers!);
    }

    [Fact]
    public async Task An_endpoint_a_caller_keeps_ejected_is_marked_with_who_ejects_it_until_the_caller_reports_otherwise()
    {
        await using var meshd = await TestMeshd.StartAsync();
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5201");
        await meshd.RegisterAsync("inventory", "inv-2", "http://127.0.0.1:5202");
        await meshd.RegisterAsync("orders", "ord-1", "http://127.0.0.1:5101");
        await meshd.RegisterAsync("gateway", "gw-1", "http://127.0.0.1:5001");
        await meshd.ReportAsync("orders", "ord-1", """{ "snapshotVersion": 1, "ejected": [ { "service": "inventory", "address": "http://127.0.0.1:5202" } ] }""");
        await meshd.ReportAsync("gateway", "gw-1", """{ "snapshotVersion": 1, "ejected": [ { "service": "Inventory", "address": "http://127.0.0.1:5202" } ] }""");

        var inventory = await ServiceAsync(meshd, "inventory");
        Assert.Empty(inventory.Instances.Single(i => i.InstanceId == "inv-1").EjectedBy!);
        Assert.Equal(["gateway/gw-1", "orders/ord-1"], inventory.Instances.Single(i => i.InstanceId == "inv-2").EjectedBy);

        await meshd.ReportAsync("orders", "ord-1", """{ "snapshotVersion": 1 }""");
        Assert.Equal(["gateway/gw-1"], (await ServiceAsync(meshd, "inventory")).Instances.Single(i => i.InstanceId == "inv-2").EjectedBy);
    }

    internal static string Traffic(string peer, long requests, long successes, double seconds, int bucket)
    {
        var latency = string.Join(", ", Enumerable.Range(0, bucket + 1).Select(i => i == bucket ? requests : 0));
        return $$"""{ "peer": "{{peer}}", "requests": {{requests}}, "successes": {{successes}}, "seconds": {{seconds}}, "latency": [ {{latency}} ] }""";
    }

    internal static string Report(string[]? inbound = null, string[]? outbound = null, long snapshotVersion = 1) =>
        $$"""{ "snapshotVersion": {{snapshotVersion}}, "inbound": [ {{string.Join(", ", inbound ?? [])}} ], "outbound": [ {{string.Join(", ", outbound ?? [])}} ] }""";

    // The upper bound of latency bucket i, as both an instance and meshd print it.
    internal static double Bound(int bucket) => TimeSpan.FromMilliseconds(InstanceReportLimits.FirstBucketMs * Math.Pow(InstanceReportLimits.BucketGrowth, bucket)).TotalMilliseconds;

    internal static async Task<ServiceStatusDocument> ServiceAsync(TestMeshd meshd, string service) =>
        (await meshd.Admin.GetFromJsonAsync(new Uri($"/v1/services/{service}", UriKind.Relative), ControlPlaneJson.Default.ServiceStatusDocument))!;

    internal static async Task<FleetStatsDocument> StatsAsync(TestMeshd meshd) =>
        (await meshd.Admin.GetFromJsonAsync(new Uri("/v1/fleet/stats", UriKind.Relative), ControlPlaneJson.Default.FleetStatsDocument))!;
}
