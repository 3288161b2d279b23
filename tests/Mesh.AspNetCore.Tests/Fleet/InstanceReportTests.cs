using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Contract;
using Mesh.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
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
    public async Task An_endpoint_the_instance_ejects_is_reported_at_the_address_meshd_registered()
    {
        await using var fleet = await FleetKit.StartAsync();
        await fleet.StartServiceAsync("back", "back-1", app => app.MapGet("/items", () => "ok"));
        var failing = await fleet.StartServiceAsync("back", "back-2", app => app.MapGet("/items", () => Results.StatusCode(500)));
        var front = await fleet.StartServiceAsync("front", "front-1", _ => { });
        var catalog = front.Services.GetRequiredService<ServiceCatalog>();
        await Eventually.WaitAsync(() => catalog.TryGetService("back", out var back) && back.Destination.Endpoints.Length == 2, "front to learn both instances of back");

        // Retries go to the healthy instance; the failing one meets five failures in a row and is ejected.
        var http = front.Mesh;
        await Eventually.WaitAsync(
            async () =>
            {
                using var response = await http.GetAsync(new Uri("http://back/items"));
                return catalog.TryGetService("back", out var back) && back.Destination.EjectedCount() == 1;
            },
            "front to eject back-2");

        await Eventually.WaitAsync(() => fleet.Reports.Last("front", "front-1")?.Ejected?.Count == 1, "front to report the ejection", TimeSpan.FromSeconds(15));
        var ejected = Assert.Single(fleet.Reports.Last("front", "front-1")!.Ejected!);
        Assert.Equal(new EjectedEndpointDocument("back", failing.Address.GetLeftPart(UriPartial.Authority)), ejected);
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

        var sent = fleet.Reports.Received;
        await Eventually.WaitAsync(
            () => fleet.Reports.Received > sent + 1 && fleet.Reports.Last("front", "front-1") is { Inbound.Count: InstanceReportLimits.Peers },
            "a report after the traffic",
            TimeSpan.FromSeconds(15));
        var report = fleet.Reports.Last("front", "front-1")!;
        Assert.Equal(InstanceReportLimits.Policies, report.Policies!.Count);
        Assert.Equal(InstanceReportLimits.Peers, report.Outbound!.Count);
        Assert.Equal(InstanceReportLimits.Peers, report.Inbound!.Count);
        Assert.Equal(("svc-0003", 3L), (report.Outbound[0].Peer, report.Outbound[0].Requests));
        Assert.Equal(("caller-0007", 3L), (report.Inbound[0].Peer, report.Inbound[0].Requests));
        Assert.All(report.Outbound.Concat(report.Inbound), p => Assert.InRange(p.Latency!.Count, 1, InstanceReportLimits.LatencyBuckets));
        Assert.Equal(200, fleet.Reports.LastRaw("front", "front-1").Status);

        // Busiest first, then by name: a cut report still says the same thing at every renewal.
        Assert.Equal(report.Outbound.Skip(1).Select(p => p.Peer).Order(StringComparer.Ordinal), report.Outbound.Skip(1).Select(p => p.Peer));
    }
}
