using System.Net;

namespace Meshd.Tests.Storage;

/// <summary>
/// Issue #15, item 4: meshd's connection to etcd over TLS (etcd's certificate checked against <c>Meshd:Etcd:CaFile</c>,
/// meshd's client certificate presented) and with a user name and password (signing in again when etcd drops the
/// token), each against a real etcd of the test's own.
/// </summary>
public sealed class EtcdSecurityTests
{
    [Fact]
    public async Task Meshd_uses_an_etcd_that_requires_tls_and_a_client_certificate()
    {
        using var authority = new TestAuthority();
        var server = authority.Issue("etcd");
        var client = authority.Issue("meshd-client", client: true);
        await using var etcd = await EtcdServer.StartAsync(new EtcdServerOptions
        {
            CertificateFile = server.CertificateFile,
            KeyFile = server.KeyFile,
            ClientCaFile = authority.CertificateFile,
            Trust = authority.Certificate,
            ClientCertificate = client.Certificate,
        });
        Assert.Equal("https", etcd.Endpoint.Scheme);
        using var directory = new TempDirectory();
        var settings = TestMeshd.Settings(
            directory.Path,
            ("Meshd:Store", "etcd"),
            ("Meshd:Etcd:Endpoint", etcd.Endpoint.ToString()),
            ("Meshd:Etcd:Prefix", "/mesh-tls/"),
            ("Meshd:Etcd:CaFile", authority.CertificateFile),
            ("Meshd:Etcd:ClientCertificateFile", client.CertificateFile),
            ("Meshd:Etcd:ClientKeyFile", client.KeyFile));

        await using (var meshd = await TestMeshd.StartAsync(settings))
        {
            Assert.Equal(HttpStatusCode.OK, (await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""")).StatusCode);
            var snapshot = await meshd.SnapshotAsync();
            Assert.Equal("inv-1", (string?)snapshot["services"]!["inventory"]!["instances"]![0]!["instanceId"]);
            Assert.Equal("RoundRobin", (string?)snapshot["services"]!["inventory"]!["policy"]!["LoadBalancer"]);
        }

        // Without its client certificate etcd does not take meshd: the start stops, naming the store.
        var noCertificate = new Dictionary<string, string?>(settings);
        noCertificate.Remove("Meshd:Etcd:ClientCertificateFile");
        noCertificate.Remove("Meshd:Etcd:ClientKeyFile");
        var refused = await Assert.ThrowsAsync<MeshdStartupException>(() => TestMeshd.StartAsync(noCertificate));
        Assert.StartsWith("Meshd:Store: cannot read the etcd store at start", refused.Message, StringComparison.Ordinal);

        // An etcd whose certificate does not chain to the configured roots is not trusted.
        using var stranger = new TestAuthority();
        var otherRoots = new Dictionary<string, string?>(settings) { ["Meshd:Etcd:CaFile"] = stranger.CertificateFile };
        var untrusted = await Assert.ThrowsAsync<MeshdStartupException>(() => TestMeshd.StartAsync(otherRoots));
        Assert.StartsWith("Meshd:Store: cannot read the etcd store at start", untrusted.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Meshd_signs_in_to_etcd_and_signs_in_again_when_etcd_drops_its_token()
    {
        const string User = "meshd";
        const string Password = "meshd-secret-password";
        const string Prefix = "/mesh-auth/";
        await using var etcd = await EtcdServer.StartAsync(new EtcdServerOptions { AuthTokenTtlSeconds = 2 });
        await etcd.EnableAuthenticationAsync(User, Password, Prefix);
        using var directory = new TempDirectory();

        // Nothing of meshd's own uses the token between the writes below (health probes and leases are far apart).
        var settings = TestMeshd.Settings(
            directory.Path,
            ("Meshd:Store", "etcd"),
            ("Meshd:Etcd:Endpoint", etcd.Endpoint.ToString()),
            ("Meshd:Etcd:Prefix", Prefix),
            ("Meshd:Etcd:Username", User),
            ("Meshd:Etcd:Password", Password),
            ("Meshd:HealthInterval", "00:05:00"),
            ("Meshd:LeaseTtl", "00:05:00"));
        await using (var meshd = await TestMeshd.StartAsync(settings))
        {
            Assert.Equal(HttpStatusCode.OK, (await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001")).StatusCode);
            var dropped = DroppedTokens(etcd, User);

            // etcd drops a token unused for its TTL; the next write carries a token etcd no longer knows.
            await Eventually.WaitAsync(() => DroppedTokens(etcd, User) > dropped, "etcd to drop meshd's idle token", TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, (await meshd.RegisterAsync("inventory", "inv-2", "http://127.0.0.1:5002")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""")).StatusCode);

            var instances = (await meshd.SnapshotAsync())["services"]!["inventory"]!["instances"]!.AsArray();
            Assert.Equal(["inv-1", "inv-2"], instances.Select(i => (string?)i!["instanceId"]));
            Assert.Contains("\"inv-2\"", await etcd.GetAsync(Prefix + "instances/inventory/inv-2", User, Password), StringComparison.Ordinal);
        }

        // A wrong password stops the start, naming the user and never the password.
        var wrong = new Dictionary<string, string?>(settings) { ["Meshd:Etcd:Password"] = "not-the-password" };
        var refused = await Assert.ThrowsAsync<MeshdStartupException>(() => TestMeshd.StartAsync(wrong));
        Assert.Contains($"sign in to etcd at {etcd.Endpoint} as '{User}'", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", refused.ToString(), StringComparison.Ordinal);
    }

    private static int DroppedTokens(EtcdServer etcd, string user) =>
        etcd.Log.Count(l => l.Contains("deleted a simple token", StringComparison.Ordinal) && l.Contains($"\"user-name\":\"{user}\"", StringComparison.Ordinal));
}
