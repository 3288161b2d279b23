using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mesh.AspNetCore.Registration;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Contract;
using Mesh.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Fleet;

/// <summary>
/// What an instance tells meshd with each lease renewal, as it arrives at a real meshd: the versions it applied, the keys
/// it overrides, its traffic both ways as counts, the endpoints it ejects; and the bounds a big catalog is cut to.
/// </summary>
public sealed class InstanceReportTests
{
    [Fact]
    public async Task A_renewal_carries_the_versions_applied_the_local_overrides_and_the_traffic_both_ways()
    {
        await using var fleet = await FleetKit.StartAsync();
        Assert.True((await fleet.Meshd.PutPolicyAsync("back", """{ "Retry": { "MaxAttempts": 2 } }""")).IsSuccessStatusCode);
        var policyVersion = (long)(await fleet.Meshd.Admin.GetFromJsonAsync<JsonObject>(new Uri("/v1/policies/back", UriKind.Relative)))!["version"]!;
        await fleet.StartServiceAsync("back", "back-1", app => app.MapGet("/items", () => "ok"));
        var front = await fleet.StartServiceAsync(
            "front",
            "front-1",
            app => app.MapGet("/call/{n:int}", async (int n, IHttpClientFactory clients) =>
            {
                var http = clients.CreateClient("mesh");
                for (var i = 0; i < n; i++)
                {
                    (await http.GetAsync(new Uri("http://back/items"))).EnsureSuccessStatusCode();
                }

                return n;
            }),
            new Dictionary<string, string?> { ["Mesh:Services:back:Retry:MaxAttempts"] = "3" });
        var catalog = front.Services.GetRequiredService<ServiceCatalog>();
        await Eventually.WaitAsync(() => catalog.TryGetService("back", out var back) && back.Destination.Endpoints.Length == 1, "front to learn back's instance");

        const int Calls = 20;
        (await front.GetAsync($"/call/{Calls}")).EnsureSuccessStatusCode();

        await Eventually.WaitAsync(
            () => fleet.Reports.Last("front", "front-1") is { } f && f.Outbound is [{ Requests: Calls }] && f.Inbound?.Count > 0
                && fleet.Reports.Last("back", "back-1")?.Inbound?.FirstOrDefault(p => p.Peer == "front")?.Requests == Calls,
            "both instances to report the calls",
            TimeSpan.FromSeconds(15));

        var report = fleet.Reports.Last("front", "front-1")!;
        var watcher = front.Services.GetRequiredService<ControlPlaneWatcher>();
        Assert.True(report.SnapshotVersion > 0);
        Assert.Equal(watcher.Current.Version, report.SnapshotVersion);
        Assert.Contains(new AppliedPolicyDocument("back", policyVersion), report.Policies!);
        Assert.Equal(["Mesh:Services:back:Retry:MaxAttempts"], report.OverriddenKeys!, StringComparer.OrdinalIgnoreCase);
        Assert.Null(report.CertificateExpiresAt);
        Assert.Empty(report.Ejected!);

        var outbound = Assert.Single(report.Outbound!);
        Assert.Equal("back", outbound.Peer);
        Assert.Equal(Calls, outbound.Successes);
        Assert.Equal(Calls, outbound.Latency!.Sum());
        Assert.InRange(outbound.Latency!.Count, 1, InstanceReportLimits.LatencyBuckets);
        Assert.NotEqual(0, outbound.Latency![^1]);
        Assert.InRange(outbound.Seconds, 1, 60);
        var served = Assert.Single(report.Inbound!);
        Assert.Equal(("unknown", 1L, 1L), (served.Peer, served.Requests, served.Successes));

        // The report names the overridden key, never its value; /mesh/config shows the same key running the local value.
        var (raw, status) = fleet.Reports.LastRaw("front", "front-1");
        Assert.Equal(200, status);
        Assert.DoesNotContain("\"3\"", raw, StringComparison.Ordinal);
        var config = await front.ConfigAsync();
        var attempts = config.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("service").GetString() == "back")
            .GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("key").GetString() == "Retry:MaxAttempts");
        Assert.Equal("3", attempts.GetProperty("value").GetString());
        Assert.Equal("appsettings", attempts.GetProperty("source").GetString());
        Assert.Equal("meshd", attempts.GetProperty("overrides").GetString());
        Assert.True(catalog.TryGetService("back", out var running));
        Assert.Equal(3, running.Options.Retry.MaxAttempts);

        // The server side counts what it served, by the caller the meshed client names.
        var back = fleet.Reports.Last("back", "back-1")!;
        var fromFront = Assert.Single(back.Inbound!);
        Assert.Equal(Calls, fromFront.Successes);
        Assert.Equal(Calls, fromFront.Latency!.Sum());
        Assert.Empty(back.OverriddenKeys!);
    }

    [Fact]
    public async Task A_catalog_and_traffic_past_every_bound_still_make_a_report_within_the_bounds_busiest_first()
    {
        await using var fleet = await FleetKit.StartAsync();
        const int Policies = InstanceReportLimits.Policies + 6;
        const int Destinations = InstanceReportLimits.Peers + 4;
        const int Callers = InstanceReportLimits.Peers + 10;
        await Parallel.ForEachAsync(Enumerable.Range(0, Policies), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
        {
            using var put = await fleet.Meshd.PutPolicyAsync($"svc-{i:D4}", """{ "Timeout": "00:00:05" }""");
            Assert.True(put.IsSuccessStatusCode, $"policy {i}: {put.StatusCode}");
        });
        var back = await fleet.StartServiceAsync("back", "back-1", app => app.MapGet("/items", () => "ok"));
        var local = new Dictionary<string, string?>();
        for (var i = 0; i < Destinations; i++)
        {
            local[$"Mesh:Services:svc-{i:D4}:Endpoints:0"] = back.Address.ToString();
        }

        var front = await fleet.StartServiceAsync("front", "front-1", app => app.MapGet("/ok", () => "ok"), local);
        var catalog = front.Services.GetRequiredService<ServiceCatalog>();
        await Eventually.WaitAsync(() => catalog.ServiceNames.Count() >= Policies, "front to learn every service", TimeSpan.FromSeconds(30));

        // svc-0003 is the busiest destination, caller-0007 the busiest caller: both must be first.
        var http = front.Mesh;
        for (var i = 0; i < Destinations; i++)
        {
            for (var n = i == 3 ? 3 : 1; n > 0; n--)
            {
                (await http.GetAsync(new Uri($"http://svc-{i:D4}/items"))).EnsureSuccessStatusCode();
            }
        }

        for (var i = 0; i < Callers; i++)
        {
            for (var n = i == 7 ? 3 : 1; n > 0; n--)
            {
                (await front.GetAsync("/ok", $"caller-{i:D4}")).EnsureSuccessStatusCode();
            }
        }

        await Eventually.WaitAsync(
            () => fleet.Reports.Last("front", "front-1") is { Outbound: [{ Peer: "svc-0003", Requests: 3 }, ..], Inbound: [{ Peer: "caller-0007", Requests: 3 }, ..] },
            "a report after the traffic",
            TimeSpan.FromSeconds(15));
        var report = fleet.Reports.Last("front", "front-1")!;
        var (raw, status) = fleet.Reports.LastRaw("front", "front-1");

        // Every count within its bound, the whole within the bytes meshd takes: the policy versions are kept whole,
        // the quietest peers give way.
        Assert.Equal(200, status);
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(raw), 1, InstanceReporter.MaxBytes);
        Assert.Equal(InstanceReportLimits.Policies, report.Policies!.Count);
        Assert.InRange(report.Outbound!.Count, 1, InstanceReportLimits.Peers);
        Assert.InRange(report.Inbound!.Count, 1, InstanceReportLimits.Peers);
        Assert.All(report.Outbound.Concat(report.Inbound), p => Assert.InRange(p.Latency!.Count, 1, InstanceReportLimits.LatencyBuckets));

        // Busiest first, then by name: a cut report keeps the same peers at every renewal.
        Assert.Equal(report.Outbound.Skip(1).Select(p => p.Peer).Order(StringComparer.Ordinal), report.Outbound.Skip(1).Select(p => p.Peer));
        Assert.Equal(report.Inbound.Skip(1).Select(p => p.Peer).Order(StringComparer.Ordinal), report.Inbound.Skip(1).Select(p => p.Peer));

        // meshd took it: the instance's status carries it.
        var inMeshd = await fleet.Meshd.Admin.GetFromJsonAsync(new Uri("/v1/services/front", UriKind.Relative), ControlPlaneJson.Default.ServiceStatusDocument);
        Assert.NotNull(Assert.Single(inMeshd!.Instances).Report);
    }
}
