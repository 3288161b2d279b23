using System.Collections.Concurrent;
using System.Net.Http.Json;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Contract;
using Mesh.Identity;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Identity;

/// <summary>
/// A workload whose certificate comes from meshd's certificate authority: signed for its service's identity, its roots
/// from meshd's snapshots, kept on disk for a start while meshd is down, renewed at about half its life, and never
/// presented past its expiry when meshd stays away.
/// </summary>
public sealed class MeshdIdentityTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _cache = new("mesh-cp-");
    private TestMeshd _meshd = null!;
    private MtlsServer _inventory = null!;
    private string _ordersToken = string.Empty;

    public async Task InitializeAsync()
    {
        _meshd = await TestMeshd.StartWithIdentityAsync();
        (_, _ordersToken) = await _meshd.CreateCredentialAsync("orders");
        var (_, inventoryToken) = await _meshd.CreateCredentialAsync("inventory");
        using var inventory = TestMeshd.Client(_meshd.Address, inventoryToken);

        // The callee is a plain TLS server holding an inventory certificate signed by meshd, registered with its identity.
        using var request = SvidSigningRequest.Create(SpiffeId.ForService("mesh.local", "inventory"));
        using var signed = await TestMeshd.RequestSvidAsync(inventory, "inventory", request.Pem);
        signed.EnsureSuccessStatusCode();
        var svid = request.Complete((await signed.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SvidDocument))!.CertificateChainPem);
        var bundle = (await inventory.GetFromJsonAsync("/v1/identity/bundle", ControlPlaneJson.Default.TrustBundleDocument))!;
        _inventory = await MtlsServer.StartAsync(svid, TrustBundle.FromPem(bundle.TrustDomain, bundle.RootsPem));
        using var registered = await inventory.PutAsync(
            new Uri("/v1/services/inventory/instances/inv-1", UriKind.Relative),
            TestMeshd.Json($$"""{ "address": "{{_inventory.Address.GetLeftPart(UriPartial.Authority)}}", "identity": "spiffe://mesh.local/svc/inventory" }"""));
        registered.EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync()
    {
        await _inventory.DisposeAsync();
        await _meshd.DisposeAsync();
    }

    public void Dispose() => _cache.Dispose();

    [Fact]
    public async Task A_workload_gets_its_certificate_from_meshd_and_reaches_an_endpoint_registered_with_its_identity_over_mutual_TLS()
    {
        using var orders = Orders();

        Assert.Equal("spiffe://mesh.local/svc/orders", await orders.Client.GetStringAsync("http://inventory/whoami"));

        // Kept for a start while meshd is down; the key readable by its owner only.
        var key = Path.Combine(_cache.Path, MeshdIdentitySource.KeyFileName);
        Assert.True(File.Exists(Path.Combine(_cache.Path, MeshdIdentitySource.CertificateFileName)));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        }
    }

    [Fact]
    public async Task A_workload_starting_while_meshd_is_down_presents_its_cached_certificate()
    {
        using (var first = Orders())
        {
            Assert.Equal("spiffe://mesh.local/svc/orders", await first.Client.GetStringAsync("http://inventory/whoami"));
        }

        await _meshd.StopAsync();
        using var second = Orders();

        Assert.Equal("spiffe://mesh.local/svc/orders", await second.Client.GetStringAsync("http://inventory/whoami"));
        Assert.Contains(second.Logs.Entries, e => e.Message.Contains("loaded from the cache", StringComparison.Ordinal) && e.Message.Contains("svc/orders", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_meshd_away_past_the_renewal_time_traffic_goes_on_and_the_certificate_is_never_presented_past_its_expiry()
    {
        // Every answer closes its connection, so every request is a new handshake with the certificate held then.
        _inventory.CloseEveryConnection = true;
        using var orders = Orders(("Mesh:Identity:CertificateTtl", "00:00:08"));
        var client = orders.Client;
        Assert.Equal("spiffe://mesh.local/svc/orders", await client.GetStringAsync("http://inventory/whoami"));
        var workload = (WorkloadCertificate)orders.Services.GetService(typeof(WorkloadCertificate))!;
        var expiry = workload.Latest!.NotAfter;

        await _meshd.StopAsync();
        var outcomes = new ConcurrentQueue<(DateTimeOffset At, bool Ok, string? Error)>();
        while (DateTimeOffset.UtcNow < expiry + TimeSpan.FromSeconds(1))
        {
            try
            {
                await client.GetStringAsync("http://inventory/whoami");
                outcomes.Enqueue((DateTimeOffset.UtcNow, true, null));
            }
            catch (HttpRequestException ex)
            {
                outcomes.Enqueue((DateTimeOffset.UtcNow, false, ex.Message));
            }
        }

        var renewalDue = expiry - TimeSpan.FromSeconds(4 * 0.6);
        output.WriteLine($"{outcomes.Count(o => o.Ok)} requests served with meshd away, {outcomes.Count(o => !o.Ok)} refused after the certificate expired at {expiry:O}.");
        Assert.Contains(outcomes, o => o.Ok && o.At > renewalDue);
        Assert.DoesNotContain(outcomes, o => o.Ok && o.At > expiry + TimeSpan.FromMilliseconds(500));
        Assert.All(_inventory.ClientNotAfters, notAfter => Assert.Equal(expiry, notAfter));
        Assert.Contains(outcomes, o => !o.Ok && o.Error!.Contains("certificate", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(orders.Logs.Entries, e => e.Level >= LogLevel.Warning && e.Message.Contains("expired", StringComparison.OrdinalIgnoreCase));

        // meshd back: the next renewal succeeds and calls go through again.
        await _meshd.StartAgainAsync();
        await Eventually.WaitAsync(() => workload.TryGetCurrent(out _), "a renewed certificate once meshd is back", TimeSpan.FromSeconds(30));
        Assert.Equal("spiffe://mesh.local/svc/orders", await client.GetStringAsync("http://inventory/whoami"));
    }

    private MeshTestHost Orders(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:ServiceName"] = "orders",
            ["Mesh:ControlPlane:Address"] = _meshd.Address.ToString(),
            ["Mesh:ControlPlane:Token"] = _ordersToken,
            ["Mesh:ControlPlane:CacheDirectory"] = _cache.Path,
            ["Mesh:ControlPlane:WaitTime"] = "00:00:05",
            ["Mesh:Identity:Source"] = "meshd",
            ["Mesh:Identity:RenewalBackoff"] = "00:00:00.200",
            ["Mesh:Identity:MaxRenewalBackoff"] = "00:00:01",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return MeshTestHost.Create(settings);
    }
}
