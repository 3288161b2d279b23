using Mesh.ControlPlane.Contract;

namespace Mesh.Cli.Tests;

/// <summary>
/// A real meshd with a small fleet: <c>orders</c> (two instances; o-1 runs an old policy version, keeps a local key and
/// is ejected by the gateway), <c>gateway</c> (one instance calling orders), and <c>payments</c> (a policy, no instance).
/// </summary>
internal sealed class Scenario : IAsyncDisposable
{
    public const string ReaderToken = "test-reader-token";

    private Scenario(TestMeshd meshd)
    {
        Meshd = meshd;
        Cli = new Cli(meshd);
    }

    public TestMeshd Meshd { get; }

    /// <summary>Gets meshctl with this meshd's address and the admin token in its environment.</summary>
    public Cli Cli { get; }

    public DateTimeOffset CertificateExpiresAt { get; } = DateTimeOffset.UtcNow.AddDays(30);

    public static async Task<Scenario> StartAsync(bool fleet = true)
    {
        // Leases long enough that no instance of the scenario lapses on a slow machine while a test runs.
        var meshd = await TestMeshd.StartAsync(("Meshd:ReaderToken", ReaderToken), ("Meshd:SweepInterval", "00:00:00.100"), ("Meshd:LeaseTtl", "00:10:00"));
        var scenario = new Scenario(meshd);
        try
        {
            if (fleet)
            {
                await scenario.BuildAsync();
            }

            return scenario;
        }
        catch
        {
            await scenario.DisposeAsync();
            throw;
        }
    }

    /// <summary>Renews orders/o-1 with a report that it runs orders' policy at <paramref name="version"/>.</summary>
    public async Task ReportOrdersAsync(string instanceId, long version, IReadOnlyList<string>? overridden = null)
    {
        await Fleet.RenewAsync(Meshd, "orders", instanceId, new InstanceReportDocument(
            await Fleet.SnapshotVersionAsync(Meshd),
            [new AppliedPolicyDocument("orders", version), new AppliedPolicyDocument("payments", 1)],
            overridden,
            CertificateExpiresAt,
            Inbound: [Fleet.Traffic("gateway", 300, 297, 20)]));
    }

    public async ValueTask DisposeAsync()
    {
        await Cli.DisposeAsync();
        await Meshd.DisposeAsync();
    }

    private async Task BuildAsync()
    {
        await Fleet.PutPolicyAsync(Meshd, "orders", """{ "LoadBalancer": "RoundRobin", "Retry": { "MaxAttempts": 3 } }""");
        await Fleet.PutPolicyAsync(Meshd, "orders", """{ "LoadBalancer": "RoundRobin", "Retry": { "MaxAttempts": 5 } }""");
        await Fleet.PutPolicyAsync(Meshd, "payments", """{ "Timeout": "00:00:02" }""");
        await Fleet.RegisterAsync(Meshd, "orders", "o-1", 5001);
        await Fleet.RegisterAsync(Meshd, "orders", "o-2", 5002);
        await Fleet.RegisterAsync(Meshd, "gateway", "g-1", 6001);
        await ReportOrdersAsync("o-1", 1, ["Mesh:Services:orders:Retry:MaxAttempts"]);
        await ReportOrdersAsync("o-2", 2);
        await Fleet.RenewAsync(Meshd, "gateway", "g-1", new InstanceReportDocument(
            await Fleet.SnapshotVersionAsync(Meshd),
            [new AppliedPolicyDocument("orders", 2), new AppliedPolicyDocument("payments", 1)],
            CertificateExpiresAt: CertificateExpiresAt,
            Outbound: [Fleet.Traffic("orders", 600, 594, 20)],
            Ejected: [new EjectedEndpointDocument("orders", "http://127.0.0.1:5001")]));
    }
}
