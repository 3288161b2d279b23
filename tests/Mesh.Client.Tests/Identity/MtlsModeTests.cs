using Mesh.Discovery;
using Mesh.Identity;

namespace Mesh.Client.Tests.Identity;

/// <summary>
/// A meshed client follows the mutual TLS mode of the service it calls: the service's own <c>Mtls:Mode</c>, else the
/// mesh-wide <c>Mesh:Mtls:Mode</c>, else permissive. Strict never sends plaintext; off never uses TLS.
/// </summary>
public sealed class MtlsModeTests : IAsyncLifetime, IDisposable
{
    private const string Inventory = "spiffe://mesh.local/svc/inventory";
    private readonly TestPki _root = TestPki.CreateRoot("Mesh Root", trustDomain: "mesh.local");
    private readonly TempDirectory _files = new("mesh-mode-");
    private MtlsServer _mtls = null!;
    private TestBackend _plaintext = null!;

    public async Task InitializeAsync()
    {
        _mtls = await MtlsServer.StartAsync(Svid(Inventory), TrustBundle.Create("mesh.local", [_root.Certificate]));
        _plaintext = await TestBackend.StartAsync("legacy");
        var (certificate, key) = Svid("spiffe://mesh.local/svc/orders").ExportPem();
        File.WriteAllText(Path.Combine(_files.Path, "svid-key.pem"), key);
        File.WriteAllText(Path.Combine(_files.Path, "svid.pem"), certificate);
        File.WriteAllText(Path.Combine(_files.Path, "bundle.pem"), _root.Certificate.ExportCertificatePem());
    }

    public async Task DisposeAsync()
    {
        await _plaintext.DisposeAsync();
        await _mtls.DisposeAsync();
    }

    public void Dispose()
    {
        _files.Dispose();
        _root.Dispose();
    }

    [Fact]
    public async Task A_mesh_wide_strict_mode_sends_no_plaintext_to_a_service_without_a_mode_of_its_own_and_a_service_mode_overrides_it()
    {
        using var host = Client(identity: true, ("Mesh:Mtls:Mode", "Strict"));

        // Strict by inheritance: the endpoint with an identity is reached over mutual TLS, the one without is never called.
        Assert.Equal("spiffe://mesh.local/svc/orders", await host.Client.GetStringAsync("http://inventory/whoami"));
        var refused = await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://legacy/"));
        Assert.Contains("Strict", refused.Message, StringComparison.Ordinal);
        Assert.Contains("presents a mesh identity", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, _plaintext.Requests);

        // The service's own mode wins over the mesh-wide one.
        host.Configuration.Replace(Settings(identity: true, ("Mesh:Mtls:Mode", "Strict"), ("Mesh:Services:legacy:Mtls:Mode", "Permissive")));
        await Eventually.WaitAsync(async () => (await host.Client.GetAsync("http://legacy/")).IsSuccessStatusCode, "the legacy service to be called in plaintext");
        Assert.Equal("spiffe://mesh.local/svc/orders", await host.Client.GetStringAsync("http://inventory/whoami"));
    }

    [Fact]
    public async Task A_workload_without_an_identity_calls_nothing_of_a_strict_service_and_says_why()
    {
        using var host = Client(identity: false, ("Mesh:Mtls:Mode", "Strict"));

        var refused = await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://inventory/whoami"));

        Assert.Contains("no identity of its own", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, _mtls.Connections);
    }

    [Fact]
    public async Task Without_a_mesh_wide_mode_a_service_is_permissive_and_off_calls_an_endpoint_with_an_identity_in_plaintext()
    {
        // Permissive, the built-in default: plaintext to the endpoint without an identity, mutual TLS to the one with one.
        using var host = Client(identity: true);
        Assert.True((await host.Client.GetAsync("http://legacy/")).IsSuccessStatusCode);
        Assert.Equal("spiffe://mesh.local/svc/orders", await host.Client.GetStringAsync("http://inventory/whoami"));

        // An endpoint that claims an identity but serves plaintext: permissive calls it over mutual TLS, which fails.
        host.Configuration.Replace(Settings(identity: true, ("Mesh:Services:legacy:Endpoints:0:Identity", Inventory)));
        var before = _plaintext.Requests;
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => host.Client.GetAsync("http://legacy/"));
        Assert.Equal(before, _plaintext.Requests);

        // Off, mesh-wide: the same endpoint is called in plaintext, with no identity checked.
        host.Configuration.Replace(Settings(identity: true, ("Mesh:Mtls:Mode", "Off"), ("Mesh:Services:legacy:Endpoints:0:Identity", Inventory)));
        await Eventually.WaitAsync(async () => (await host.Client.GetAsync("http://legacy/")).IsSuccessStatusCode, "the legacy service to be called in plaintext");
        Assert.True(_plaintext.Requests > before);
    }

    [Fact]
    public async Task A_mesh_wide_mode_no_one_knows_is_refused_naming_the_field_and_the_last_good_mode_stays()
    {
        using var host = Client(identity: true, ("Mesh:Mtls:Mode", "Strict"));
        await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://legacy/"));
        var rejected = host.Catalog.RejectedReloads;

        host.Configuration.Replace(Settings(identity: true, ("Mesh:Mtls:Mode", "Strictly")));

        await Eventually.WaitAsync(() => host.Catalog.RejectedReloads == rejected + 1, "the reload to be refused");
        Assert.Contains(host.Logs.Entries, e => e.Message.Contains("Mesh:Mtls:Mode: 'Strictly' is not a mode", StringComparison.Ordinal));
        await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://legacy/"));
        Assert.Equal(0, _plaintext.Requests);
    }

    private MeshTestHost Client(bool identity, params (string Key, string Value)[] extra) => MeshTestHost.Create(Settings(identity, extra));

    private Dictionary<string, string?> Settings(bool identity, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:ServiceName"] = "orders",
            ["Mesh:Services:inventory:Endpoints:0:Address"] = _mtls.Address.ToString().Replace("https:", "http:", StringComparison.Ordinal),
            ["Mesh:Services:inventory:Endpoints:0:Identity"] = Inventory,
            ["Mesh:Services:legacy:Endpoints:0:Address"] = _plaintext.Address.ToString(),
        };
        if (identity)
        {
            settings["Mesh:Identity:Source"] = "files";
            settings["Mesh:Identity:CertificatePath"] = Path.Combine(_files.Path, "svid.pem");
            settings["Mesh:Identity:KeyPath"] = Path.Combine(_files.Path, "svid-key.pem");
            settings["Mesh:Identity:BundlePath"] = Path.Combine(_files.Path, "bundle.pem");
        }

        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    private WorkloadSvid Svid(string id) => WorkloadSvid.Create(_root.Issue(new TestLeaf { Uris = [id], NotAfter = DateTimeOffset.UtcNow.AddHours(1) }));
}
