using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Mesh.ControlPlane.Contract;

namespace Mesh.Dashboard.Tests;

/// <summary>
/// A real meshd with the demo's services registered through its API, as <c>samples/Mesh.Demo</c> runs them: gateway,
/// orders, payments and inventory in three instances (v1a, v1b, v2), with the demo's standing policies.
/// </summary>
internal sealed class DemoFleet : IAsyncDisposable
{
    /// <summary>The read-only token (<c>Meshd:ReaderToken</c>) the dashboard is opened with.</summary>
    public const string ReaderToken = "test-reader-token";

    private DemoFleet(TestMeshd meshd) => Meshd = meshd;

    /// <summary>Gets meshd.</summary>
    public TestMeshd Meshd { get; }

    /// <summary>Gets the dashboard's address with <paramref name="token"/> in the fragment.</summary>
    public string DashboardWith(string token) => new Uri(Meshd.Address, "/#token=" + Uri.EscapeDataString(token)).ToString();

    /// <summary>The instances registered: service, instance id and address.</summary>
    public static readonly (string Service, string Instance, string Address, string Version)[] Instances =
    [
        ("gateway", "gateway-1", "http://127.0.0.1:7101", "v1"),
        ("orders", "orders-1", "http://127.0.0.1:7102", "v1"),
        ("payments", "payments-1", "http://127.0.0.1:7103", "v1"),
        ("inventory", "v1a", "http://127.0.0.1:7104", "v1"),
        ("inventory", "v1b", "http://127.0.0.1:7105", "v1"),
        ("inventory", "v2", "http://127.0.0.1:7106", "v2"),
    ];

    /// <summary>Starts meshd (leases of 10 minutes: the test renews when it reports), registers the demo's instances and puts its policies.</summary>
    public static async Task<DemoFleet> StartAsync(params (string Key, string Value)[] extra)
    {
        var meshd = await TestMeshd.StartAsync([("Meshd:LeaseTtl", "00:10:00"), ("Meshd:ReaderToken", ReaderToken), .. extra]);
        try
        {
            foreach (var (service, instance, address, version) in Instances)
            {
                using var registered = await meshd.RegisterAsync(service, instance, new Uri(address), version);
                registered.EnsureSuccessStatusCode();
            }

            using (var payments = await meshd.PutPolicyAsync("payments", """{ "Retry": { "MaxAttempts": 5, "Budget": { "Ratio": 0.3, "MinPerSecond": 10 } } }"""))
            {
                payments.EnsureSuccessStatusCode();
            }

            using (var inventory = await meshd.PutPolicyAsync("inventory", """{ "OutlierDetection": { "ConsecutiveFailures": 3 } }"""))
            {
                inventory.EnsureSuccessStatusCode();
            }

            return new DemoFleet(meshd);
        }
        catch
        {
            await meshd.DisposeAsync();
            throw;
        }
    }

    /// <summary>Renews an instance's lease with a report; the answer's status.</summary>
    public async Task<HttpStatusCode> ReportAsync(string service, string instance, InstanceReportDocument report)
    {
        using var content = JsonContent.Create(report, ControlPlaneJson.Default.InstanceReportDocument);
        using var response = await Meshd.Workload.PostAsync(new Uri($"/v1/services/{service}/instances/{instance}/renew", UriKind.Relative), content);
        return response.StatusCode;
    }

    /// <summary>
    /// Every instance renews with a report of the demo's traffic over the last minute (10 orders/s through the gateway,
    /// payments failing 2 % of charges), the policy versions it runs, a certificate expiring in 23 hours; orders keeps
    /// inventory v1b ejected when <paramref name="v1bEjected"/>. Returns the instances meshd refused a report of.
    /// </summary>
    public async Task<IReadOnlyList<string>> ReportDemoTrafficAsync(bool v1bEjected)
    {
        var expires = DateTimeOffset.UtcNow.AddHours(23);
        var payments = await PolicyVersionAsync("payments");
        var inventory = await PolicyVersionAsync("inventory");
        AppliedPolicyDocument[] current = [new("inventory", inventory), new("payments", payments)];
        var reports = new (string Service, string Instance, InstanceReportDocument Report)[]
        {
            ("gateway", "gateway-1", new(7, current, [], expires, Outbound: [Traffic("orders", 600, 598, 9)], Inbound: [Traffic("demo", 600, 598, 10)])),
            ("orders", "orders-1", new(
                7,
                current,
                ["Mesh:Services:payments:Timeout"],
                expires,
                Outbound: [Traffic("inventory", 600, 600, 2), Traffic("payments", 600, 588, 4)],
                Inbound: [Traffic("gateway", 600, 598, 8)],
                Ejected: v1bEjected ? [new("inventory", Address("v1b"))] : [])),
            ("payments", "payments-1", new(7, current, [], expires, Inbound: [Traffic("orders", 620, 600, 3)])),
            ("inventory", "v1a", new(7, current, [], expires, Inbound: [Traffic("orders", 400, 400, 1.5)])),
            ("inventory", "v1b", new(7, current, [], expires, Inbound: [Traffic("orders", 0, 0, 1)])),

            // v2 has not applied the latest inventory policy yet.
            ("inventory", "v2", new(6, [new("inventory", Math.Max(0, inventory - 1)), new("payments", payments)], [], expires, Inbound: [Traffic("orders", 200, 200, 1.8)])),
        };
        var refused = new List<string>();
        foreach (var (service, instance, report) in reports)
        {
            var status = await ReportAsync(service, instance, report);
            if (status != HttpStatusCode.OK && status != HttpStatusCode.NoContent)
            {
                refused.Add($"{service}/{instance}: {(int)status}");
            }
        }

        return refused;
    }

    /// <summary>Gets the address an instance was registered at.</summary>
    public static string Address(string instance) => Instances.Single(i => i.Instance == instance).Address;

    /// <summary>
    /// A minute of traffic with <paramref name="peer"/>: half the calls in the latency bucket of <paramref name="medianMs"/>,
    /// the rest in the buckets of twice, four and eight times it.
    /// </summary>
    private static TrafficDocument Traffic(string peer, long requests, long successes, double medianMs)
    {
        var buckets = new long[InstanceReportLimits.LatencyBuckets];
        static int Bucket(double ms) => Math.Clamp((int)Math.Ceiling(Math.Log(ms / InstanceReportLimits.FirstBucketMs) / Math.Log(InstanceReportLimits.BucketGrowth)), 0, InstanceReportLimits.LatencyBuckets - 1);
        var half = requests / 2;
        var most = requests * 45 / 100;
        var few = requests * 4 / 100;
        buckets[Bucket(medianMs)] += half;
        buckets[Bucket(medianMs * 2)] += most;
        buckets[Bucket(medianMs * 4)] += few;
        buckets[Bucket(medianMs * 8)] += requests - half - most - few;
        var last = Array.FindLastIndex(buckets, b => b > 0);
        return new TrafficDocument(peer, requests, successes, 60, buckets[..(last + 1)]);
    }

    /// <summary>Gets a service's version of its policy from meshd.</summary>
    public async Task<long> PolicyVersionAsync(string service)
    {
        using var document = JsonDocument.Parse(await Meshd.Admin.GetStringAsync(new Uri($"/v1/policies/{service}", UriKind.Relative)));
        return document.RootElement.GetProperty("version").GetInt64();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Meshd.DisposeAsync();
}
