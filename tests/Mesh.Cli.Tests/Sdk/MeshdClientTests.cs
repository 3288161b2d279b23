using System.Text.Json;
using Mesh.ControlPlane.Contract;
using Mesh.Sdk;

namespace Mesh.Cli.Tests.Sdk;

/// <summary>Every call of the SDK against a real meshd: its answer, and the typed exception of each refusal.</summary>
public sealed class MeshdClientTests : IAsyncLifetime
{
    internal const string ReaderToken = "test-reader-token";

    private TestMeshd _meshd = null!;
    private MeshdClient _client = null!;

    public async Task InitializeAsync()
    {
        _meshd = await TestMeshd.StartAsync(("Meshd:ReaderToken", ReaderToken), ("Meshd:SweepInterval", "00:00:00.100"));
        _client = Client(TestMeshd.AdminToken);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _meshd.DisposeAsync();
    }

    [Fact]
    public async Task Services_list_the_registered_instances_and_the_policy_version()
    {
        await Fleet.RegisterAsync(_meshd, "orders", "o-1", 5001);
        await Fleet.RegisterAsync(_meshd, "orders", "o-2", 5002);
        await Fleet.PutPolicyAsync(_meshd, "orders", """{ "LoadBalancer": "RoundRobin" }""");
        await Fleet.PutPolicyAsync(_meshd, "payments", """{ "Timeout": "00:00:02" }""");

        var services = await _client.GetServicesAsync();

        Assert.Equal(["orders", "payments"], services.Select(s => s.Name));
        var orders = services[0];
        Assert.Equal(1, orders.PolicyVersion);
        Assert.Equal(["o-1", "o-2"], orders.Instances.Select(i => i.InstanceId));
        Assert.Equal("http://127.0.0.1:5001", orders.Instances[0].Address);
        Assert.Equal("a", orders.Instances[0].Zone);
        Assert.Equal("v1", orders.Instances[0].Labels["version"]);
        Assert.True(orders.Instances[0].LeaseExpiresAt > DateTimeOffset.UtcNow);
        Assert.Empty(services[1].Instances);

        var one = await _client.GetServiceAsync("ORDERS");
        Assert.Equal("orders", one.Name);
        Assert.Equal(2, one.Instances.Count);
    }

    [Fact]
    public async Task An_unknown_service_is_a_not_found_exception()
    {
        var error = await Assert.ThrowsAsync<MeshdNotFoundException>(() => _client.GetServiceAsync("nowhere"));
        Assert.Equal(404, error.Status);
        Assert.Contains("nowhere", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_policy_is_put_read_patched_restored_and_deleted_with_its_versions()
    {
        using var first = JsonDocument.Parse("""{ "Retry": { "MaxAttempts": 3 } }""");
        var v1 = await _client.PutPolicyAsync("orders", first.RootElement);
        Assert.Equal(("orders", 1L), (v1.Service, v1.Version));

        using var patch = JsonDocument.Parse("""{ "Retry": { "MaxAttempts": 5 }, "LoadBalancer": "RoundRobin" }""");
        var v2 = await _client.PatchPolicyAsync("orders", patch.RootElement, new PolicyWriteOptions { IfMatch = 1 });
        Assert.Equal(2, v2.Version);
        Assert.Equal(5, v2.Policy!.Value.GetProperty("Retry").GetProperty("MaxAttempts").GetInt32());

        var read = await _client.GetPolicyAsync("orders");
        Assert.Equal(2, read.Version);
        Assert.Equal("RoundRobin", read.Policy!.Value.GetProperty("LoadBalancer").GetString());
        Assert.NotNull(read.UpdatedAt);

        var restored = await _client.RestorePolicyAsync("orders", 1, ifMatch: 2);
        Assert.Equal(3, restored.Version);
        Assert.Equal(3, restored.Policy!.Value.GetProperty("Retry").GetProperty("MaxAttempts").GetInt32());

        var all = await _client.GetPoliciesAsync();
        Assert.Equal(("orders", 3L), (all.Single().Service, all.Single().Version));

        var deleted = await _client.DeletePolicyAsync("orders", ifMatch: 3);
        Assert.Equal(4, deleted.Version);
        Assert.Null(deleted.Policy);

        var history = await _client.GetPolicyHistoryAsync("orders");
        Assert.Equal([4L, 3, 2, 1], history.Select(h => h.Version));
        Assert.Null(history[0].Policy);
        Assert.All(history, h => Assert.Equal("orders", h.Service));

        await Assert.ThrowsAsync<MeshdNotFoundException>(() => _client.GetPolicyAsync("orders"));
        await Assert.ThrowsAsync<MeshdNotFoundException>(() => _client.GetPolicyHistoryAsync("payments"));
        await Assert.ThrowsAsync<MeshdNotFoundException>(() => _client.PatchPolicyAsync("payments", patch.RootElement));
    }

    [Fact]
    public async Task A_stale_if_match_is_a_precondition_failed_conflict_and_stores_nothing()
    {
        await Fleet.PutPolicyAsync(_meshd, "orders", """{ "LoadBalancer": "RoundRobin" }""");
        await Fleet.PutPolicyAsync(_meshd, "orders", """{ "LoadBalancer": "Random" }""");
        using var policy = JsonDocument.Parse("""{ "LoadBalancer": "LeastRequest" }""");

        var error = await Assert.ThrowsAsync<MeshdConflictException>(() => _client.PutPolicyAsync("orders", policy.RootElement, new PolicyWriteOptions { IfMatch = 1 }));

        Assert.True(error.IsPreconditionFailed);
        Assert.Equal(412, error.Status);
        Assert.Contains("version 2", error.Detail, StringComparison.Ordinal);
        Assert.Equal("Random", (await _client.GetPolicyAsync("orders")).Policy!.Value.GetProperty("LoadBalancer").GetString());
    }

    [Fact]
    public async Task An_invalid_policy_is_a_validation_exception_naming_the_field()
    {
        using var policy = JsonDocument.Parse("""{ "Retry": { "MaxAttempts": 0 } }""");

        var error = await Assert.ThrowsAsync<MeshdValidationException>(() => _client.PutPolicyAsync("orders", policy.RootElement));

        Assert.Equal(400, error.Status);
        var messages = Assert.Contains("Retry:MaxAttempts", error.Errors);
        Assert.Contains(messages, m => m.Contains("out of range", StringComparison.Ordinal));
        Assert.Contains("Retry:MaxAttempts", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<MeshdNotFoundException>(() => _client.GetPolicyAsync("orders"));
    }

    [Fact]
    public async Task A_wrong_token_is_unauthorized_and_a_workload_token_on_an_admin_route_is_forbidden()
    {
        using var wrong = Client("not-the-token");
        var missing = await Assert.ThrowsAsync<MeshdUnauthorizedException>(() => wrong.GetServicesAsync());
        Assert.Equal(401, missing.Status);
        Assert.False(missing.IsForbidden);

        using var workload = Client(TestMeshd.WorkloadToken);
        var forbidden = await Assert.ThrowsAsync<MeshdUnauthorizedException>(() => workload.GetPoliciesAsync());
        Assert.Equal(403, forbidden.Status);
        Assert.True(forbidden.IsForbidden);

        // The token is never part of what the exception says.
        Assert.DoesNotContain("not-the-token", missing.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_watch_yields_the_current_snapshot_then_each_change()
    {
        await Fleet.PutPolicyAsync(_meshd, "orders", """{ "LoadBalancer": "RoundRobin" }""");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var watch = _client.WatchSnapshotsAsync(wait: TimeSpan.FromSeconds(30), cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);

        Assert.True(await watch.MoveNextAsync());
        var first = watch.Current;
        Assert.Equal(1, first.Services["orders"].PolicyVersion);
        Assert.Equal("RoundRobin", first.Services["orders"].Policy.GetProperty("LoadBalancer").GetString());

        var next = watch.MoveNextAsync().AsTask();
        await _meshd.WatchersParkedAsync();
        Assert.False(next.IsCompleted);
        await Fleet.RegisterAsync(_meshd, "orders", "o-1", 5001);

        Assert.True(await next);
        Assert.True(watch.Current.Version > first.Version);
        Assert.Equal("o-1", watch.Current.Services["orders"].Instances.Single().InstanceId);
    }

    [Fact]
    public async Task An_authorization_check_answers_the_rule_and_names_a_bad_field()
    {
        await Fleet.PutPolicyAsync(_meshd, "payments", AuthorizationPolicy);

        var allowed = await _client.CheckAuthorizationAsync(new AuthorizationQuestion("payments", "orders", "POST", "/charges"));
        Assert.True(allowed.Allowed);
        Assert.Equal("orders-charge", allowed.Rule);
        Assert.Equal("spiffe://mesh.local/svc/orders", allowed.Caller);
        Assert.Equal(1, allowed.PolicyVersion);

        var denied = await _client.CheckAuthorizationAsync(new AuthorizationQuestion("payments", "gateway", "POST", "/charges"));
        Assert.False(denied.Allowed);
        Assert.Equal("(no-match)", denied.Rule);

        var error = await Assert.ThrowsAsync<MeshdValidationException>(() => _client.CheckAuthorizationAsync(new AuthorizationQuestion("payments", "orders", "POST", "charges")));
        Assert.Contains("path", error.Errors);
    }

    [Fact]
    public async Task Health_readiness_and_status_say_what_meshd_says()
    {
        var health = await _client.GetHealthAsync();
        Assert.True(health.Serving);
        Assert.Equal("ok", health.Checks["store"]);

        var ready = await _client.GetReadinessAsync();
        Assert.True(ready.Serving);
        Assert.Equal("ok", ready.Checks["loaded"]);

        await Fleet.RegisterAsync(_meshd, "orders", "o-1", 5001);
        var status = await _client.GetStatusAsync();
        Assert.Equal(await Fleet.SnapshotVersionAsync(_meshd), status.SnapshotVersion);
        Assert.True(status.Document.TryGetProperty("limits", out _));
    }

    [Fact]
    public async Task A_dead_address_moves_the_client_to_the_next_and_none_alive_is_unreachable()
    {
        using var closed = LoopbackPorts.Closed();
        using var failover = new MeshdClient(new MeshdClientOptions { Addresses = { closed.Address, _meshd.Address }, Token = TestMeshd.AdminToken });

        Assert.Empty(await failover.GetServicesAsync());
        Assert.Equal(_meshd.Address, failover.Address);

        using var dead = new MeshdClient(new MeshdClientOptions { Addresses = { closed.Address }, Token = TestMeshd.AdminToken });
        var error = await Assert.ThrowsAsync<MeshdUnreachableException>(() => dead.GetServicesAsync());
        Assert.Equal(0, error.Status);
        Assert.Contains(closed.Address.GetLeftPart(UriPartial.Authority), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_over_a_given_http_client_uses_its_base_address_and_options_are_checked()
    {
        using var http = new HttpClient { BaseAddress = _meshd.Address };
        using var client = new MeshdClient(http, new MeshdClientOptions { Token = TestMeshd.AdminToken });
        Assert.Empty(await client.GetServicesAsync());

        var none = Assert.Throws<ArgumentException>(() => new MeshdClient(new MeshdClientOptions()));
        Assert.Contains("MeshdClientOptions.Addresses", none.Message, StringComparison.Ordinal);
        var relative = Assert.Throws<ArgumentException>(() => new MeshdClient(new MeshdClientOptions { Addresses = { new Uri("ftp://meshd") } }));
        Assert.Contains("ftp://meshd", relative.Message, StringComparison.Ordinal);
        var timeout = Assert.Throws<ArgumentException>(() => new MeshdClient(new MeshdClientOptions { Addresses = { _meshd.Address }, Timeout = TimeSpan.Zero }));
        Assert.Contains("MeshdClientOptions.Timeout", timeout.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dry_run_answers_what_would_be_stored_or_the_field_and_stores_nothing()
    {
        await Fleet.PutPolicyAsync(_meshd, "orders", """{ "Retry": { "MaxAttempts": 3 } }""");
        using var patch = JsonDocument.Parse("""{ "Retry": { "MaxAttempts": 5 } }""");

        var wouldBe = await _client.PatchPolicyAsync("orders", patch.RootElement, new PolicyWriteOptions { DryRun = true, IfMatch = 1 });
        Assert.Equal(2, wouldBe.Version);
        Assert.Equal(5, wouldBe.Policy!.Value.GetProperty("Retry").GetProperty("MaxAttempts").GetInt32());

        using var bad = JsonDocument.Parse("""{ "LoadBalancer": "Fastest" }""");
        var error = await Assert.ThrowsAsync<MeshdValidationException>(() => _client.PutPolicyAsync("orders", bad.RootElement, new PolicyWriteOptions { DryRun = true }));
        Assert.Contains("LoadBalancer", error.Errors);

        var live = await _client.GetPolicyAsync("orders");
        Assert.Equal(1, live.Version);
        Assert.Equal(3, live.Policy!.Value.GetProperty("Retry").GetProperty("MaxAttempts").GetInt32());
    }

    [Fact]
    public async Task The_read_only_token_reads_and_is_forbidden_to_write()
    {
        await Fleet.PutPolicyAsync(_meshd, "orders", """{ "LoadBalancer": "RoundRobin" }""");
        using var reader = Client(ReaderToken);

        Assert.Equal("orders", (await reader.GetServicesAsync()).Single().Name);
        Assert.Equal(1, (await reader.GetPolicyAsync("orders")).Version);
        Assert.NotNull(await reader.GetFleetStatsAsync());
        Assert.True((await reader.GetStatusAsync()).SnapshotVersion > 0);

        using var policy = JsonDocument.Parse("""{ "LoadBalancer": "Random" }""");
        var error = await Assert.ThrowsAsync<MeshdUnauthorizedException>(() => reader.PutPolicyAsync("orders", policy.RootElement));
        Assert.True(error.IsForbidden);
    }

    [Fact]
    public async Task Reports_show_as_versions_lag_overrides_ejections_and_fleet_metrics()
    {
        await Fleet.PutPolicyAsync(_meshd, "orders", """{ "LoadBalancer": "RoundRobin" }""");
        await Fleet.PutPolicyAsync(_meshd, "orders", """{ "LoadBalancer": "Random" }""");
        await Fleet.RegisterAsync(_meshd, "orders", "o-1", 5001);
        await Fleet.RegisterAsync(_meshd, "gateway", "g-1", 6001);
        var snapshot = await Fleet.SnapshotVersionAsync(_meshd);
        var certificate = DateTimeOffset.UtcNow.AddDays(1);
        await Fleet.RenewAsync(_meshd, "orders", "o-1", new InstanceReportDocument(
            snapshot,
            [new AppliedPolicyDocument("orders", 1)],
            ["Mesh:Services:orders:LoadBalancer"],
            certificate,
            Inbound: [Fleet.Traffic("gateway", 600, 594, 20)]));
        await Fleet.RenewAsync(_meshd, "gateway", "g-1", new InstanceReportDocument(
            snapshot,
            [new AppliedPolicyDocument("orders", 2)],
            Outbound: [Fleet.Traffic("orders", 600, 594, 20)],
            Ejected: [new EjectedEndpointDocument("orders", "http://127.0.0.1:5001")]));

        var orders = await _client.GetServiceAsync("orders");
        Assert.False(orders.Converged);
        Assert.Equal(["gateway"], orders.Callers);
        var o1 = orders.Instances.Single();
        Assert.Equal(["gateway/g-1"], o1.EjectedBy);
        var report = o1.Report!;
        Assert.False(report.Converged);
        Assert.Equal(1, report.Policies["orders"]);
        Assert.Equal(new PolicyLag("orders", 1, 2), report.Lagging.Single());
        Assert.Equal(["Mesh:Services:orders:LoadBalancer"], report.OverriddenKeys);
        Assert.Equal(certificate.ToUnixTimeSeconds(), report.CertificateExpiresAt!.Value.ToUnixTimeSeconds());
        Assert.Equal(600, report.Inbound.Single().Requests);

        var stats = await _client.GetFleetStatsAsync();
        var served = stats.Services.Single(s => s.Service == "orders");
        Assert.Equal(600, served.Requests);
        Assert.Equal(0.99, served.SuccessRate, 3);
        Assert.Equal(10, served.RequestsPerSecond, 3);
        var edge = stats.Edges.Single(e => e.Caller == "gateway" && e.Service == "orders");
        Assert.Equal("client", edge.Source);
        Assert.Equal(600, edge.Requests);
    }

    [Fact]
    public async Task An_answer_over_max_response_bytes_is_refused_before_it_is_parsed()
    {
        await Fleet.PutPolicyAsync(_meshd, "orders", """{ "LoadBalancer": "RoundRobin", "Timeout": "00:00:02" }""");
        using var small = new MeshdClient(new MeshdClientOptions { Addresses = { _meshd.Address }, Token = TestMeshd.AdminToken, MaxResponseBytes = 64 });

        var error = await Assert.ThrowsAsync<MeshdException>(() => small.GetSnapshotAsync());

        Assert.Contains("MeshdClientOptions.MaxResponseBytes (64 bytes)", error.Message, StringComparison.Ordinal);
        Assert.Equal("orders", (await _client.GetSnapshotAsync()).Services.Keys.Single());
        Assert.Throws<ArgumentException>(() => new MeshdClient(new MeshdClientOptions { Addresses = { _meshd.Address }, MaxResponseBytes = 0 }));
    }

    internal const string AuthorizationPolicy = """
        { "Authorization": { "Rules": [
            { "Name": "orders-charge", "Action": "Allow", "From": [ "orders" ], "To": [ { "Methods": [ "POST" ], "Paths": [ "/charges" ] } ] } ] } }
        """;

    private MeshdClient Client(string token) => new(new MeshdClientOptions { Addresses = { _meshd.Address }, Token = token });
}
