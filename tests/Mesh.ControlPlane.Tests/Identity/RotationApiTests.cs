using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Mesh.ControlPlane.Contract;
using Mesh.Identity;

namespace Meshd.Tests.Identity;

/// <summary>
/// Root rotation through meshd's API, as an operator does it: A → A+B → B signs → A removed once forced, each step in
/// the snapshot's trust bundle at a new version (so a watcher learns of it) and each kept across a restart.
/// </summary>
public sealed class RotationApiTests
{
    private static readonly SpiffeId Orders = SpiffeId.ForService("mesh.local", "orders");

    [Fact]
    public async Task A_then_A_and_B_then_B_signs_then_B_only_reaches_a_watcher_and_survives_restarts()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();
        var (_, token) = await meshd.CreateCredentialAsync("orders");
        using var orders = TestMeshd.Client(meshd.Address, token);
        var a = Assert.Single(await AuthoritiesAsync(meshd)).Id;
        var (version, bundle) = await SnapshotAsync(orders);
        Assert.Equal([a], Fingerprints(bundle));
        Assert.Equal(bundle, await BundleAsync(orders));
        var fromA = await IssueAsync(orders);
        Assert.Equal(a, IssuerOf(fromA, bundle));

        // A → A+B: the watcher is woken with the new bundle; A still signs.
        var watch = orders.GetAsync($"/v1/snapshot?since={version}&wait=30");
        await meshd.WatchersParkedAsync();
        using var added = await meshd.Admin.PostAsync("/v1/identity/authorities", null);
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var b = (await added.Content.ReadFromJsonAsync(ControlPlaneJson.Default.AuthorityDocument))!;
        Assert.False(b.Active);
        Assert.True(b.Generated);
        using (var changed = await watch)
        {
            Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
            var document = (await changed.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SnapshotDocument))!;
            Assert.True(document.Version > version);
            version = document.Version;
            Assert.Equal([a, b.Id], Fingerprints(document.TrustBundle!));
        }

        Assert.Equal(a, IssuerOf(await IssueAsync(orders), (await SnapshotAsync(orders)).Bundle));

        await meshd.StopAsync();
        await meshd.StartAgainAsync();
        Assert.Equal([(a, true), (b.Id, false)], (await AuthoritiesAsync(meshd)).Select(x => (x.Id, x.Active)));
        Assert.Equal([a, b.Id], Fingerprints((await SnapshotAsync(orders)).Bundle));

        // B signs: new certificates chain to B; A stays trusted, for the certificates it signed.
        using (var activated = await meshd.Admin.PostAsync($"/v1/identity/authorities/{b.Id}/activate", null))
        {
            Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
            Assert.True((await activated.Content.ReadFromJsonAsync(ControlPlaneJson.Default.AuthorityDocument))!.Active);
        }

        var afterActivation = await SnapshotAsync(orders);
        Assert.Equal([b.Id, a], Fingerprints(afterActivation.Bundle));
        var fromB = await IssueAsync(orders);
        Assert.Equal(b.Id, IssuerOf(fromB, afterActivation.Bundle));
        Assert.Equal(a, IssuerOf(fromA, afterActivation.Bundle));

        // A's certificates may still be valid: its removal is refused, and nothing changes.
        using (var refused = await meshd.Admin.DeleteAsync($"/v1/identity/authorities/{a}"))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Contains("may be valid until", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.Conflict, (await meshd.Admin.DeleteAsync($"/v1/identity/authorities/{a}?force=false")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await meshd.Admin.DeleteAsync($"/v1/identity/authorities/{new string('0', 64)}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await meshd.Admin.PostAsync($"/v1/identity/authorities/{new string('0', 64)}/activate", null)).StatusCode);
        Assert.Equal(afterActivation, await SnapshotAsync(orders));

        await meshd.StopAsync();
        await meshd.StartAgainAsync();

        // Forced, once every workload renewed: B only, at a new version.
        var restarted = await SnapshotAsync(orders);
        Assert.Equal(afterActivation.Bundle, restarted.Bundle);
        watch = orders.GetAsync($"/v1/snapshot?since={restarted.Version}&wait=30");
        await meshd.WatchersParkedAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await meshd.Admin.DeleteAsync($"/v1/identity/authorities/{a}?force=true")).StatusCode);
        using (var changed = await watch)
        {
            Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
            var document = (await changed.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SnapshotDocument))!;
            Assert.True(document.Version > restarted.Version);
            Assert.Equal([b.Id], Fingerprints(document.TrustBundle!));
        }

        await meshd.StopAsync();
        await meshd.StartAgainAsync();
        var final = await SnapshotAsync(orders);
        Assert.Equal([b.Id], Fingerprints(final.Bundle));
        Assert.Equal(final.Bundle, await BundleAsync(orders));
        Assert.Equal([b.Id], (await AuthoritiesAsync(meshd)).Select(x => x.Id));
        Assert.Equal(b.Id, IssuerOf(await IssueAsync(orders), final.Bundle));
        Assert.Null(IssuerOf(fromA, final.Bundle));
    }

    [Fact]
    public async Task An_intermediate_of_the_operators_pki_is_imported_then_signs_with_its_chain()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();
        using var root = TestPki.CreateRoot("Operator Root", trustDomain: "mesh.local");
        using var intermediate = root.CreateIntermediate("Operator Intermediate", trustDomain: "mesh.local");
        var import = JsonSerializer.Serialize(new AuthorityRequest(intermediate.CertificatePem, intermediate.KeyPem, root.CertificatePem), ControlPlaneJson.Default.AuthorityRequest);

        using var added = await meshd.Admin.PostAsync("/v1/identity/authorities", TestMeshd.Json(import));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var authority = (await added.Content.ReadFromJsonAsync(ControlPlaneJson.Default.AuthorityDocument))!;
        Assert.False(authority.Generated);
        Assert.Equal(HttpStatusCode.Conflict, (await meshd.Admin.PostAsync("/v1/identity/authorities", TestMeshd.Json(import))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await meshd.Admin.PostAsync($"/v1/identity/authorities/{authority.Id[..12]}/activate", null)).StatusCode);

        var (_, bundle) = await SnapshotAsync(meshd.Admin);
        Assert.Contains(Fingerprint(root.Certificate), Fingerprints(bundle));
        var svid = await IssueAsync(meshd.Admin);
        var chain = TrustBundle.ReadPem(svid.CertificateChainPem, "issued");
        Assert.Equal(2, chain.Count);
        Assert.Equal(authority.Id, Fingerprint(chain[1]));
        Assert.Equal(Fingerprint(root.Certificate), IssuerOf(svid, bundle));
    }

    private static async Task<IReadOnlyList<AuthorityDocument>> AuthoritiesAsync(TestMeshd meshd) =>
        (await meshd.Admin.GetFromJsonAsync("/v1/identity/authorities", ControlPlaneJson.Default.IReadOnlyListAuthorityDocument))!;

    private static async Task<(long Version, TrustBundleDocument Bundle)> SnapshotAsync(HttpClient client)
    {
        var document = (await client.GetFromJsonAsync("/v1/snapshot", ControlPlaneJson.Default.SnapshotDocument))!;
        return (document.Version, document.TrustBundle!);
    }

    private static async Task<TrustBundleDocument> BundleAsync(HttpClient client) =>
        (await client.GetFromJsonAsync("/v1/identity/bundle", ControlPlaneJson.Default.TrustBundleDocument))!;

    private static async Task<SvidDocument> IssueAsync(HttpClient client)
    {
        using var csr = SvidSigningRequest.Create(Orders);
        using var response = await TestMeshd.RequestSvidAsync(client, "orders", csr.Pem);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SvidDocument))!;
    }

    private static List<string> Fingerprints(TrustBundleDocument bundle)
    {
        Assert.Equal("mesh.local", bundle.TrustDomain);
        return [.. TrustBundle.ReadPem(bundle.RootsPem, "the bundle").Select(Fingerprint)];
    }

    /// <summary>The root of <paramref name="bundle"/> the SVID validates against, or null when it validates against none.</summary>
    private static string? IssuerOf(SvidDocument svid, TrustBundleDocument bundle)
    {
        var chain = TrustBundle.ReadPem(svid.CertificateChainPem, "issued");
        foreach (var root in TrustBundle.ReadPem(bundle.RootsPem, "the bundle"))
        {
            var one = TrustBundle.Create(bundle.TrustDomain, [root]);
            if (new X509SvidValidator(TimeProvider.System).Validate(chain[0], chain.Skip(1), one) is { IsValid: true } valid)
            {
                Assert.Equal(Orders, valid.Id);
                return Fingerprint(root);
            }
        }

        return null;
    }

    private static string Fingerprint(X509Certificate2 certificate) => Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256));
}
