using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Mesh.ControlPlane.Contract;
using Mesh.ControlPlane.Tests.Identity;
using Mesh.Identity;

namespace Meshd.Tests.Identity;

/// <summary><c>POST /v1/services/{service}/svid</c>: the identity comes from the route the caller is authorised for, the lifetime is bounded by the CA.</summary>
public sealed class SvidEndpointTests
{
    [Fact]
    public async Task The_identity_is_the_services_never_the_one_the_csr_asks_for()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();
        var (_, token) = await meshd.CreateCredentialAsync("orders");
        using var orders = TestMeshd.Client(meshd.Address, token);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var askingForPayments = SvidSigningRequest.Create(SpiffeId.ForService("mesh.local", "payments"));
        var csrs = new[]
        {
            askingForPayments.Pem,
            CaTestSupport.Csr(key, subject: "CN=payments", wantedUri: "spiffe://other.domain/svc/admin"),
        };

        foreach (var csr in csrs)
        {
            using var response = await TestMeshd.RequestSvidAsync(orders, "orders", csr);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var svid = (await response.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SvidDocument))!;
            var leaf = TrustBundle.ReadPem(svid.CertificateChainPem, "issued")[0];
            Assert.Equal("spiffe://mesh.local/svc/orders", svid.SpiffeId);
            Assert.Equal(["spiffe://mesh.local/svc/orders"], X509SvidValidator.ReadUris(leaf));
            Assert.Empty(leaf.Subject);
        }
    }

    [Fact]
    public async Task A_csr_made_by_openssl_asking_for_payments_gets_the_orders_svid_and_openssl_verifies_it_against_the_served_bundle()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();
        var (_, token) = await meshd.CreateCredentialAsync("orders");
        using var orders = TestMeshd.Client(meshd.Address, token);
        using var directory = new TempDirectory("mesh-openssl-");
        var key = Path.Combine(directory.Path, "key.pem");
        var request = Path.Combine(directory.Path, "request.pem");
        var limit = TimeSpan.FromSeconds(60);
        Assert.Equal(0, (await ChildProcess.RunAsync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key], limit)).ExitCode);
        var made = await ChildProcess.RunAsync("openssl", ["req", "-new", "-key", key, "-subj", "/CN=payments", "-addext", "subjectAltName=URI:spiffe://mesh.local/svc/payments", "-out", request], limit);
        Assert.True(made.ExitCode == 0, made.Error);

        using var response = await TestMeshd.RequestSvidAsync(orders, "orders", await File.ReadAllTextAsync(request));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var svid = (await response.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SvidDocument))!;
        var served = (await orders.GetFromJsonAsync("/v1/identity/bundle", ControlPlaneJson.Default.TrustBundleDocument))!;
        var leaf = Path.Combine(directory.Path, "leaf.pem");
        var bundle = Path.Combine(directory.Path, "bundle.pem");
        await File.WriteAllTextAsync(leaf, svid.CertificateChainPem);
        await File.WriteAllTextAsync(bundle, served.RootsPem);

        var verified = await ChildProcess.RunAsync("openssl", ["verify", "-CAfile", bundle, "-purpose", "sslclient", leaf], limit);
        Assert.True(verified.ExitCode == 0, verified.Error + verified.Output);
        var text = (await ChildProcess.RunAsync("openssl", ["x509", "-in", leaf, "-noout", "-ext", "subjectAltName"], limit)).Output;
        Assert.Contains("URI:spiffe://mesh.local/svc/orders", text, StringComparison.Ordinal);
        Assert.DoesNotContain("payments", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_lifetime_is_the_default_or_the_one_asked_and_never_past_the_maximum()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync(("Meshd:Identity:MaxTtl", "2.00:00:00"));
        using var csr = SvidSigningRequest.Create(SpiffeId.ForService("mesh.local", "orders"));

        // NotBefore is set back by the clock skew (1 minute, at most a tenth of the lifetime); X.509 keeps whole seconds.
        foreach (var (ttl, lifetime) in new (string?, TimeSpan)[] { (null, TimeSpan.FromHours(24)), ("01:00:00", TimeSpan.FromHours(1)), ("30.00:00:00", TimeSpan.FromDays(2)) })
        {
            using var response = await TestMeshd.RequestSvidAsync(meshd.Admin, "orders", csr.Pem, ttl);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var svid = (await response.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SvidDocument))!;
            var span = svid.NotAfter - svid.NotBefore - TimeSpan.FromMinutes(1);
            Assert.True((span - lifetime).Duration() <= TimeSpan.FromSeconds(1), $"ttl {ttl}: {span} instead of {lifetime}");
            var leaf = TrustBundle.ReadPem(svid.CertificateChainPem, "issued")[0];
            Assert.Equal(svid.NotAfter, X509SvidValidator.NotAfter(leaf));
        }
    }

    [Fact]
    public async Task While_the_ca_is_off_its_routes_say_so_and_an_identity_cannot_be_registered()
    {
        await using var meshd = await TestMeshd.StartAsync();
        using var csr = SvidSigningRequest.Create(SpiffeId.ForService("mesh.local", "orders"));

        foreach (var response in new[]
        {
            await TestMeshd.RequestSvidAsync(meshd.Workload, "orders", csr.Pem),
            await meshd.Workload.GetAsync("/v1/identity/bundle"),
            await meshd.Admin.GetAsync("/v1/identity/authorities"),
            await meshd.Admin.PostAsync("/v1/identity/authorities", null),
        })
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("Meshd:Identity:Enabled=true", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            response.Dispose();
        }

        using var register = await meshd.Workload.PutAsync("/v1/services/orders/instances/o-1", TestMeshd.Json("""{ "address": "https://127.0.0.1:5001", "identity": "spiffe://mesh.local/svc/orders" }"""));
        Assert.Equal(HttpStatusCode.BadRequest, register.StatusCode);
        Assert.Contains("\"identity\"", await register.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null((await meshd.SnapshotAsync())["trustBundle"]);
    }
}
