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
    /// <summary>The read-only token the dashboard is opened with.</summary>
    public const string ReaderToken = TestMeshd.AdminToken;

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
        var meshd = await TestMeshd.StartAsync([("Meshd:LeaseTtl", "00:10:00"), .. extra]);
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

    /// <summary>Gets a service's version of its policy from meshd.</summary>
    public async Task<long> PolicyVersionAsync(string service)
    {
        using var document = JsonDocument.Parse(await Meshd.Admin.GetStringAsync(new Uri($"/v1/policies/{service}", UriKind.Relative)));
        return document.RootElement.GetProperty("version").GetInt64();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Meshd.DisposeAsync();
}
