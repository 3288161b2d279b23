using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Contract;
using Mesh.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Meshd.Tests.Security;

/// <summary>
/// Issue #13: a workload is authorised for one service only. The credential of <c>orders</c> acts for orders; for
/// <c>payments</c> each request is refused with 403 and nothing is stored; the admin token keeps every right.
/// </summary>
public sealed class ServiceCredentialTests
{
    private static readonly SpiffeId Orders = SpiffeId.ForService("mesh.local", "orders");

    [Fact]
    public async Task The_credential_of_orders_acts_for_orders_and_for_payments_gets_403_with_nothing_stored()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();
        var (_, token) = await meshd.CreateCredentialAsync("orders");
        using var orders = TestMeshd.Client(meshd.Address, token);

        // Its own service: register, renew, get an SVID that chains to the bundle meshd serves.
        Assert.Equal(HttpStatusCode.OK, (await orders.PutAsync("/v1/services/orders/instances/o-1", TestMeshd.Json($$"""{ "address": "https://127.0.0.1:5001", "identity": "{{Orders}}" }"""))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await orders.PostAsync("/v1/services/orders/instances/o-1/renew", null)).StatusCode);
        using var csr = SvidSigningRequest.Create(Orders);
        using var issued = await TestMeshd.RequestSvidAsync(orders, "orders", csr.Pem);
        Assert.Equal(HttpStatusCode.OK, issued.StatusCode);
        var svid = (await issued.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SvidDocument))!;
        Assert.Equal(Orders.ToString(), svid.SpiffeId);
        var verification = await VerifyAsync(orders, svid);
        Assert.True(verification.IsValid, verification.Problem);
        Assert.Equal(Orders, verification.Id);
        Assert.Equal(Orders, csr.Complete(svid.CertificateChainPem).Id);

        // Another service: an instance the admin registered, and the snapshot as it stands.
        Assert.Equal(HttpStatusCode.OK, (await meshd.Admin.PutAsync("/v1/services/payments/instances/p-1", TestMeshd.Json("""{ "address": "http://127.0.0.1:5002" }"""))).StatusCode);
        var before = (await meshd.SnapshotAsync()).ToJsonString();

        using var paymentsCsr = SvidSigningRequest.Create(SpiffeId.ForService("mesh.local", "payments"));
        var refused = new Dictionary<string, HttpResponseMessage>
        {
            ["svid"] = await TestMeshd.RequestSvidAsync(orders, "payments", paymentsCsr.Pem),
            ["svid, other spelling"] = await TestMeshd.RequestSvidAsync(orders, "Payments", paymentsCsr.Pem),
            ["register new"] = await orders.PutAsync("/v1/services/payments/instances/p-2", TestMeshd.Json("""{ "address": "http://127.0.0.1:5003" }""")),
            ["register over"] = await orders.PutAsync("/v1/services/payments/instances/p-1", TestMeshd.Json("""{ "address": "http://127.0.0.1:5004" }""")),
            ["renew"] = await orders.PostAsync("/v1/services/payments/instances/p-1/renew", null),
            ["deregister"] = await orders.DeleteAsync("/v1/services/payments/instances/p-1"),
        };
        foreach (var (what, response) in refused)
        {
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Contains("bound to service 'orders'", (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!, StringComparison.Ordinal);
            response.Dispose();
        }

        Assert.Equal(before, (await meshd.SnapshotAsync()).ToJsonString());

        // The credential reads the whole snapshot: callers need every service.
        using (var snapshot = await orders.GetAsync("/v1/snapshot"))
        {
            Assert.Equal(HttpStatusCode.OK, snapshot.StatusCode);
            Assert.Contains("\"payments\"", await snapshot.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The admin token does all of it.
        Assert.Equal(HttpStatusCode.OK, (await meshd.Admin.PostAsync("/v1/services/payments/instances/p-1/renew", null)).StatusCode);
        using (var adminSvid = await TestMeshd.RequestSvidAsync(meshd.Admin, "payments", paymentsCsr.Pem))
        {
            Assert.Equal(HttpStatusCode.OK, adminSvid.StatusCode);
            Assert.Equal("spiffe://mesh.local/svc/payments", (await adminSvid.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SvidDocument))!.SpiffeId);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await meshd.Admin.DeleteAsync("/v1/services/payments/instances/p-1")).StatusCode);
    }

    [Fact]
    public async Task A_revoked_credential_gets_401_at_once_and_the_others_keep_working()
    {
        await using var meshd = await TestMeshd.StartAsync();
        var (id, token) = await meshd.CreateCredentialAsync("orders");
        var (_, other) = await meshd.CreateCredentialAsync("orders");
        using var revoked = TestMeshd.Client(meshd.Address, token);
        using var kept = TestMeshd.Client(meshd.Address, other);
        Assert.Equal(HttpStatusCode.OK, (await revoked.PutAsync("/v1/services/orders/instances/o-1", TestMeshd.Json("""{ "address": "http://127.0.0.1:5001" }"""))).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await meshd.Admin.DeleteAsync($"/v1/credentials/{id}")).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await revoked.PostAsync("/v1/services/orders/instances/o-1/renew", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await revoked.GetAsync("/v1/snapshot")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await kept.PostAsync("/v1/services/orders/instances/o-1/renew", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await meshd.Admin.DeleteAsync($"/v1/credentials/{id}")).StatusCode);

        // A token of the right shape with a wrong secret is no credential either.
        using var forged = TestMeshd.Client(meshd.Address, other[..^4] + "AAAA");
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.GetAsync("/v1/snapshot")).StatusCode);
    }

    [Fact]
    public async Task The_shared_workload_token_works_until_service_credentials_are_required_and_credentials_survive_the_restart()
    {
        using var directory = new TempDirectory("meshd-");
        string token;
        await using (var before = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path)))
        {
            Assert.Equal(HttpStatusCode.OK, (await before.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await before.Workload.GetAsync("/v1/snapshot")).StatusCode);
            (_, token) = await before.CreateCredentialAsync("inventory");
        }

        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path, ("Meshd:RequireServiceCredentials", "true")));

        using (var register = await meshd.RegisterAsync("inventory", "inv-2", "http://127.0.0.1:5002"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, register.StatusCode);
            Assert.Contains("Meshd:RequireServiceCredentials", await register.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await meshd.Workload.GetAsync("/v1/snapshot")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await meshd.Workload.GetAsync("/v1/identity/bundle")).StatusCode);
        using var inventory = TestMeshd.Client(meshd.Address, token);
        Assert.Equal(HttpStatusCode.OK, (await inventory.PutAsync("/v1/services/inventory/instances/inv-2", TestMeshd.Json("""{ "address": "http://127.0.0.1:5002" }"""))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await inventory.GetAsync("/v1/snapshot")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await meshd.Admin.PostAsync("/v1/services/inventory/instances/inv-1/renew", null)).StatusCode);
        Assert.Equal(2, (await meshd.Admin.GetFromJsonAsync<JsonObject>("/v1/snapshot"))!["services"]!["inventory"]!["instances"]!.AsArray().Count);
    }

    [Fact]
    public async Task Credential_routes_take_the_admin_token_only()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();
        var (id, token) = await meshd.CreateCredentialAsync("orders");
        using var credential = TestMeshd.Client(meshd.Address, token);
        using var anonymous = TestMeshd.Client(meshd.Address, null);

        foreach (var (client, status) in new[] { (meshd.Workload, HttpStatusCode.Forbidden), (credential, HttpStatusCode.Forbidden), (anonymous, HttpStatusCode.Unauthorized) })
        {
            Assert.Equal(status, (await client.PostAsync("/v1/credentials", TestMeshd.Json("""{ "service": "orders" }"""))).StatusCode);
            Assert.Equal(status, (await client.GetAsync("/v1/credentials")).StatusCode);
            Assert.Equal(status, (await client.DeleteAsync($"/v1/credentials/{id}")).StatusCode);
            Assert.Equal(status, (await client.GetAsync("/v1/identity/authorities")).StatusCode);
            Assert.Equal(status, (await client.PostAsync("/v1/identity/authorities", null)).StatusCode);
        }

        var listed = (await meshd.Admin.GetFromJsonAsync("/v1/credentials", ControlPlaneJson.Default.IReadOnlyListCredentialDocument))!;
        Assert.Equal(id, Assert.Single(listed).Id);
        Assert.Single((await meshd.Admin.GetFromJsonAsync<JsonArray>("/v1/identity/authorities"))!);
    }

    [Fact]
    public async Task Tokens_are_kept_only_as_hashes_listed_without_tokens_and_no_token_key_or_csr_reaches_a_log()
    {
        using var directory = new TempDirectory("meshd-");
        var logs = new LogCollector();
        await using var meshd = await TestMeshd.StartAsync(
            TestMeshd.Settings(directory.Path, ("Meshd:Identity:Enabled", "true"), ("Logging:LogLevel:Default", "Trace")),
            services => services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace)));
        using var created = await meshd.Admin.PostAsync("/v1/credentials", TestMeshd.Json("""{ "service": "Orders" }"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("no-store", created.Headers.CacheControl?.ToString());
        var document = (await created.Content.ReadFromJsonAsync(ControlPlaneJson.Default.CredentialDocument))!;
        Assert.Equal("orders", document.Service);
        Assert.Equal($"/v1/credentials/{document.Id}", created.Headers.Location?.ToString());
        var token = document.Token!;
        var secret = token[(token.LastIndexOf('.') + 1)..];
        Assert.True(secret.Length >= 43, "a 256-bit secret");

        using var orders = TestMeshd.Client(meshd.Address, token);
        using var csr = SvidSigningRequest.Create(Orders);
        Assert.Equal(HttpStatusCode.OK, (await TestMeshd.RequestSvidAsync(orders, "orders", csr.Pem)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await TestMeshd.RequestSvidAsync(orders, "payments", csr.Pem)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await TestMeshd.RequestSvidAsync(orders, "orders", csr.Pem.Replace("A", "B", StringComparison.Ordinal))).StatusCode);
        using var root = TestPki.CreateRoot("Operator Root", trustDomain: "mesh.local");
        using var intermediate = root.CreateIntermediate("Operator Intermediate", trustDomain: "mesh.local");
        var import = new JsonObject { ["certificatePem"] = intermediate.CertificatePem, ["keyPem"] = intermediate.KeyPem, ["chainPem"] = root.CertificatePem };
        Assert.Equal(HttpStatusCode.Created, (await meshd.Admin.PostAsync("/v1/identity/authorities", TestMeshd.Json(import.ToJsonString()))).StatusCode);

        var listed = await meshd.Admin.GetStringAsync("/v1/credentials");
        Assert.Contains(document.Id, listed, StringComparison.Ordinal);
        Assert.DoesNotContain("token", listed, StringComparison.OrdinalIgnoreCase);

        // Nothing secret at rest: the store holds the digest, not the token.
        var store = await File.ReadAllTextAsync(Path.Combine(directory.Path, "store.json"));
        Assert.Contains(document.Id, store, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, store, StringComparison.Ordinal);

        var keyBody = intermediate.KeyPem.Split('\n')[1];
        var csrBody = csr.Pem.Split('\n')[1];
        Assert.NotEmpty(logs.Entries);
        foreach (var entry in logs.Entries)
        {
            var text = entry.Message + entry.Exception;
            foreach (var forbidden in new[] { secret, TestMeshd.AdminToken, TestMeshd.WorkloadToken, keyBody, csrBody, "PRIVATE KEY", "CERTIFICATE REQUEST" })
            {
                Assert.DoesNotContain(forbidden, text, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Issuing_and_refusals_are_counted_on_the_meshd_meter()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();
        var factory = meshd.Host.Services.GetRequiredService<IMeterFactory>();
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MeshdMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var tag = tags.ToArray().Select(t => $"{t.Key}={t.Value}").SingleOrDefault() ?? string.Empty;
            lock (counts)
            {
                counts[$"{instrument.Name}:{tag}"] = counts.GetValueOrDefault($"{instrument.Name}:{tag}") + value;
            }
        });
        listener.Start();

        var (_, token) = await meshd.CreateCredentialAsync("orders");
        using var orders = TestMeshd.Client(meshd.Address, token);
        using var wrong = TestMeshd.Client(meshd.Address, "not-a-token");
        using var csr = SvidSigningRequest.Create(Orders);
        await TestMeshd.RequestSvidAsync(orders, "orders", csr.Pem);
        await TestMeshd.RequestSvidAsync(orders, "orders", csr.Pem);
        await TestMeshd.RequestSvidAsync(orders, "orders", "not a csr");
        await TestMeshd.RequestSvidAsync(orders, "payments", csr.Pem);
        await wrong.GetAsync("/v1/snapshot");
        await meshd.Workload.GetAsync("/v1/credentials");

        lock (counts)
        {
            Assert.Equal(2, counts.GetValueOrDefault("meshd.identity.svids.issued:meshd.service=orders"));
            Assert.Equal(1, counts.GetValueOrDefault("meshd.identity.svids.refused:meshd.reason=csr"));
            Assert.Equal(1, counts.GetValueOrDefault("meshd.identity.access.refused:meshd.reason=other-service"));
            Assert.Equal(1, counts.GetValueOrDefault("meshd.identity.access.refused:meshd.reason=invalid-token"));
            Assert.Equal(1, counts.GetValueOrDefault("meshd.identity.access.refused:meshd.reason=admin-only"));
        }
    }

    private static async Task<SvidVerification> VerifyAsync(HttpClient client, SvidDocument svid)
    {
        var served = (await client.GetFromJsonAsync("/v1/identity/bundle", ControlPlaneJson.Default.TrustBundleDocument))!;
        var bundle = TrustBundle.FromPem(served.TrustDomain, served.RootsPem);
        var chain = TrustBundle.ReadPem(svid.CertificateChainPem, "the issued chain");
        return new X509SvidValidator(TimeProvider.System).Validate(chain[0], chain.Skip(1), bundle);
    }
}
