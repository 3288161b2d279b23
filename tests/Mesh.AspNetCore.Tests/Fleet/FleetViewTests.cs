using System.Net.Http.Json;
using System.Text.Json;
using Mesh.ControlPlane.Contract;
using Mesh.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Fleet;

/// <summary>
/// End to end through a real meshd: meshed instances report with their renewals, and meshd's fleet view says what they
/// run and how their traffic went — the same figures each instance's own <c>/mesh/stats</c> shows.
/// </summary>
public sealed class FleetViewTests
{
    [Fact]
    public async Task Fleet_golden_metrics_in_meshd_agree_with_the_instances_own_mesh_stats()
    {
        await using var fleet = await FleetKit.StartAsync();
        var back = await fleet.StartServiceAsync("back", "back-1", app => app.MapGet("/items/{id:int}", async (int id) =>
        {
            // A spread of latencies and one failure in ten, so the quantiles and the success rate say something.
            await Task.Delay(TimeSpan.FromMilliseconds(id % 5 * 3));
            return id % 10 == 9 ? Results.StatusCode(503) : Results.Ok(id);
        }));
        var front = await fleet.StartServiceAsync("front", "front-1", MapCalls, new Dictionary<string, string?> { ["Mesh:Services:back:Retry:MaxAttempts"] = "1" });
        await BackKnownAsync(front, 1);

        const int Calls = 40;
        (await front.GetAsync($"/call/{Calls}")).EnsureSuccessStatusCode();

        FleetStatsDocument? stats = null;
        await Eventually.WaitAsync(
            async () =>
            {
                stats = await fleet.Meshd.Admin.GetFromJsonAsync(new Uri("/v1/fleet/stats", UriKind.Relative), ControlPlaneJson.Default.FleetStatsDocument);
                return stats!.Edges.Any(e => e is { Caller: "front", Service: "back", Source: "client", Requests: Calls })
                    && stats.Services.Any(s => s is { Service: "back", Requests: Calls });
            },
            "meshd to add up both instances' reports of the calls",
            TimeSpan.FromSeconds(15));

        // What the caller saw: meshd's client-side edge is front's outbound entry for back.
        var edge = stats!.Edges.Single(e => e is { Caller: "front", Service: "back" });
        var outbound = (await front.StatsAsync()).GetProperty("outbound").EnumerateArray().Single(e => e.GetProperty("service").GetString() == "back");
        Assert.Equal(outbound.GetProperty("requests").GetInt64(), edge.Requests);
        Assert.Equal(0.9, edge.SuccessRate, precision: 9);
        Assert.Equal(outbound.GetProperty("successRate").GetDouble(), edge.SuccessRate);
        Assert.Equal(outbound.GetProperty("p50Ms").GetDouble(), edge.P50Ms);
        Assert.Equal(outbound.GetProperty("p95Ms").GetDouble(), edge.P95Ms);
        Assert.Equal(outbound.GetProperty("p99Ms").GetDouble(), edge.P99Ms);

        // What the server saw: meshd's figures for back are back's inbound totals (one caller, front).
        var service = stats.Services.Single(s => s.Service == "back");
        var inbound = Assert.Single((await back.StatsAsync()).GetProperty("inbound").EnumerateArray());
        Assert.Equal("front", inbound.GetProperty("caller").GetString());
        Assert.Equal(1, service.Instances);
        Assert.Equal(inbound.GetProperty("requests").GetInt64(), service.Requests);
        Assert.Equal(inbound.GetProperty("successRate").GetDouble(), service.SuccessRate);
        Assert.Equal(inbound.GetProperty("p50Ms").GetDouble(), service.P50Ms);
        Assert.Equal(inbound.GetProperty("p95Ms").GetDouble(), service.P95Ms);
        Assert.Equal(inbound.GetProperty("p99Ms").GetDouble(), service.P99Ms);
        Assert.True(service.P99Ms >= service.P50Ms);

        // And meshd knows who calls back.
        var status = await ServiceAsync(fleet, "back");
        Assert.Equal(["front"], status.Callers!);
    }

    [Fact]
    public async Task A_local_override_shows_in_meshds_view_of_the_instance_and_a_policy_change_converges()
    {
        await using var fleet = await FleetKit.StartAsync();
        Assert.True((await fleet.Meshd.PutPolicyAsync("back", """{ "Retry": { "MaxAttempts": 2 } }""")).IsSuccessStatusCode);
        await fleet.StartServiceAsync("back", "back-1", app => app.MapGet("/items/{id:int}", (int id) => id));
        var front = await fleet.StartServiceAsync("front", "front-1", MapCalls, new Dictionary<string, string?> { ["Mesh:Services:back:Retry:MaxAttempts"] = "3" });
        await BackKnownAsync(front, 1);

        var first = await InstanceWhenAsync(fleet, "front", r => r is { Converged: true, OverriddenKeys.Count: > 0 });
        Assert.Equal(["Mesh:Services:back:Retry:MaxAttempts"], first.Report!.OverriddenKeys, StringComparer.OrdinalIgnoreCase);
        Assert.Empty(first.Report.Lagging);

        // meshd changes back's policy: the instance applies it and says so with its next renewal.
        Assert.True((await fleet.Meshd.PatchPolicyAsync("back", """{ "LoadBalancer": "RoundRobin" }""")).IsSuccessStatusCode);
        var version = (await fleet.Meshd.Admin.GetFromJsonAsync<JsonElement>(new Uri("/v1/policies/back", UriKind.Relative))).GetProperty("version").GetInt64();
        var caughtUp = await InstanceWhenAsync(fleet, "front", r => r.Policies.Any(p => p.Service == "back" && p.PolicyVersion == version));
        Assert.True(caughtUp.Report!.Converged);
        Assert.Empty(caughtUp.Report.Lagging);
        Assert.True((await ServiceAsync(fleet, "front")).Converged);
        Assert.Equal(front.Services.GetRequiredService<Mesh.ControlPlane.ControlPlaneWatcher>().Current.Version, caughtUp.Report.SnapshotVersion);

        // The local key still wins, and meshd still shows it.
        Assert.Equal(["Mesh:Services:back:Retry:MaxAttempts"], caughtUp.Report.OverriddenKeys, StringComparer.OrdinalIgnoreCase);
        Assert.True(front.Services.GetRequiredService<ServiceCatalog>().TryGetService("back", out var running));
        Assert.Equal(3, running.Options.Retry.MaxAttempts);
    }

    [Fact]
    public async Task An_endpoint_an_instance_ejects_is_marked_in_meshd_as_ejected_by_that_instance()
    {
        await using var fleet = await FleetKit.StartAsync();
        await fleet.StartServiceAsync("back", "back-1", app => app.MapGet("/items/{id:int}", (int id) => id));
        var failing = await fleet.StartServiceAsync("back", "back-2", app => app.MapGet("/items/{id:int}", () => Results.StatusCode(500)));
        var front = await fleet.StartServiceAsync("front", "front-1", MapCalls);
        await BackKnownAsync(front, 2);

        // Retries go to the healthy instance; the failing one meets five failures in a row and is ejected.
        var catalog = front.Services.GetRequiredService<ServiceCatalog>();
        var http = front.Mesh;
        await Eventually.WaitAsync(
            async () =>
            {
                using var response = await http.GetAsync(new Uri("http://back/items/1"));
                return catalog.TryGetService("back", out var service) && service.Destination.EjectedCount() == 1;
            },
            "front to eject back-2");

        ServiceStatusDocument? back = null;
        await Eventually.WaitAsync(
            async () => (back = await ServiceAsync(fleet, "back")).Instances.Any(i => i.EjectedBy is { Count: > 0 }),
            "meshd to show the ejection",
            TimeSpan.FromSeconds(15));
        Assert.Equal(["front/front-1"], back!.Instances.Single(i => i.InstanceId == "back-2").EjectedBy!);
        Assert.Empty(back.Instances.Single(i => i.InstanceId == "back-1").EjectedBy!);

        // The report names it at the address meshd registered it at.
        var ejected = Assert.Single(fleet.Reports.Last("front", "front-1")!.Ejected!);
        Assert.Equal(new EjectedEndpointDocument("back", failing.Address.GetLeftPart(UriPartial.Authority)), ejected);
    }

    private static void MapCalls(WebApplication app) => app.MapGet("/call/{n:int}", async (int n, IHttpClientFactory clients) =>
    {
        var http = clients.CreateClient("mesh");
        for (var i = 0; i < n; i++)
        {
            using var response = await http.GetAsync(new Uri($"http://back/items/{i}"));
        }

        return n;
    });

    private static Task BackKnownAsync(FleetKit.Service front, int instances)
    {
        var catalog = front.Services.GetRequiredService<ServiceCatalog>();
        return Eventually.WaitAsync(() => catalog.TryGetService("back", out var back) && back.Destination.Endpoints.Length == instances, $"front to learn {instances} instance(s) of back");
    }

    private static async Task<ServiceStatusDocument> ServiceAsync(FleetKit fleet, string service) =>
        (await fleet.Meshd.Admin.GetFromJsonAsync(new Uri($"/v1/services/{service}", UriKind.Relative), ControlPlaneJson.Default.ServiceStatusDocument))!;

    private static async Task<InstanceStatusDocument> InstanceWhenAsync(FleetKit fleet, string service, Func<InstanceReportStatusDocument, bool> condition)
    {
        InstanceStatusDocument? instance = null;
        await Eventually.WaitAsync(
            async () => (instance = (await ServiceAsync(fleet, service)).Instances.SingleOrDefault()) is { Report: { } report } && condition(report),
            $"meshd to show the expected report of {service}",
            TimeSpan.FromSeconds(15));
        return instance!;
    }
}
