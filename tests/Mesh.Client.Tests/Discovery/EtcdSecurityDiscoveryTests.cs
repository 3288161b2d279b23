using Mesh.Balancing;
using Mesh.Discovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Discovery;

/// <summary>
/// The <c>etcd</c> source against a real etcd of the test's own that requires TLS and a client certificate, or a user
/// name and password: the endpoints are read; a source without the certificate, or trusting other roots, reads nothing
/// and says so; a source whose token etcd dropped signs in again; the password never reaches a log; settings that do
/// not go together stop the start, naming the field.
/// </summary>
public sealed class EtcdSecurityDiscoveryTests
{
    private const string Prefix = "/services";

    [Fact]
    public async Task The_source_reads_an_etcd_that_requires_tls_and_a_client_certificate_and_trusts_only_the_configured_roots()
    {
        await using var backend = await TestBackend.StartAsync("a");
        using var authority = new TestAuthority();
        // etcd's JSON gateway connects to etcd's own gRPC server with the server's certificate, so with client
        // certificates required that certificate must be good for a client too (etcd's rule, not the mesh's).
        var server = authority.Issue("etcd", alsoClient: true);
        var client = authority.Issue("mesh-client", client: true);
        await using var etcd = await EtcdServer.StartAsync(new EtcdServerOptions
        {
            CertificateFile = server.CertificateFile,
            KeyFile = server.KeyFile,
            ClientCaFile = authority.CertificateFile,
            Trust = authority.Certificate,
            ClientCertificate = client.Certificate,
        });
        Assert.Equal("https", etcd.Endpoint.Scheme);
        await etcd.PutAsync($"{Prefix}/inventory/a", Entry(backend));
        var settings = Config(etcd);
        settings["Mesh:Discovery:Etcd:CaFile"] = authority.CertificateFile;
        settings["Mesh:Discovery:Etcd:ClientCertificateFile"] = client.CertificateFile;
        settings["Mesh:Discovery:Etcd:ClientKeyFile"] = client.KeyFile;

        using (var host = MeshTestHost.Create(settings))
        {
            await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual([backend.Address.Port]), $"the endpoint read over TLS: {string.Join(" | ", host.Logs.Entries.Select(e => e.Message))}");
            Assert.Equal(5, await Load.RunAsync(5, 1, _ => Load.GetOkAsync(host.Client, "http://inventory/items")));
        }

        // Without its client certificate etcd does not take the source; with other roots, etcd is not trusted.
        using var stranger = new TestAuthority();
        var withoutCertificate = new Dictionary<string, string?>(settings) { ["Mesh:Discovery:Etcd:ClientCertificateFile"] = null, ["Mesh:Discovery:Etcd:ClientKeyFile"] = null };
        var otherRoots = new Dictionary<string, string?>(settings) { ["Mesh:Discovery:Etcd:CaFile"] = stranger.CertificateFile };
        foreach (var refused in new[] { withoutCertificate, otherRoots })
        {
            using var host = MeshTestHost.Create(refused);
            _ = host.Catalog.TryGetService("inventory", out _);
            await Eventually.WaitAsync(() => host.Logs.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.Contains("unreachable", StringComparison.Ordinal)), "the refused connection logged");
            Assert.Empty(Endpoints(host));
        }
    }

    [Fact]
    public async Task The_source_signs_in_signs_in_again_when_etcd_dropped_its_token_and_never_logs_the_password()
    {
        const string User = "mesh-reader";
        const string Password = "etcd-secret-password-1";
        await using var a = await TestBackend.StartAsync("a");
        await using var b = await TestBackend.StartAsync("b");
        await using var etcd = await EtcdServer.StartAsync(new EtcdServerOptions { AuthTokenTtlSeconds = 2 });
        await etcd.EnableAuthenticationAsync(User, Password, Prefix + "/");
        await etcd.PutAsync($"{Prefix}/inventory/a", Entry(a), User, Password);
        var settings = Config(etcd);
        settings["Mesh:Discovery:Etcd:Username"] = User;
        settings["Mesh:Discovery:Etcd:Password"] = Password;
        using var host = MeshTestHost.Create(settings);
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual([a.Address.Port]), "the endpoint read signed in");

        // A restart drops every token etcd gave: the source's next request is refused, and it signs in again.
        await etcd.RestartAsync();
        await etcd.PutAsync($"{Prefix}/inventory/b", Entry(b), User, Password);
        await Eventually.WaitAsync(() => Endpoints(host).SequenceEqual(new[] { a.Address.Port, b.Address.Port }.Order()), "b, put after the restart, read with a new token", TimeSpan.FromSeconds(30));

        // A wrong password: refused, said, and the password is in no log line of either host.
        using var wrong = MeshTestHost.Create(new Dictionary<string, string?>(settings) { ["Mesh:Discovery:Etcd:Password"] = "not-the-password-2" });
        _ = wrong.Catalog.TryGetService("inventory", out _);
        await Eventually.WaitAsync(() => wrong.Logs.Entries.Any(e => e.Level == LogLevel.Warning && e.Message.Contains($"refused to sign in user '{User}'", StringComparison.Ordinal)), $"the refused sign-in logged: {string.Join(" | ", wrong.Logs.Entries.Select(e => e.Message))}");
        Assert.Empty(Endpoints(wrong));
        Assert.DoesNotContain(host.Logs.Entries.Concat(wrong.Logs.Entries), e => e.Message.Contains("etcd-secret-password", StringComparison.Ordinal) || e.Message.Contains("not-the-password", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Username", "reader", null, null, "Mesh:Discovery:Etcd:Username: a user name and a password go together")]
    [InlineData("ClientCertificateFile", "CERT", null, null, "Mesh:Discovery:Etcd:ClientCertificateFile: a client certificate and its key go together")]
    [InlineData("CaFile", "/nonexistent/ca.pem", null, null, "Mesh:Discovery:Etcd:CaFile: the file '/nonexistent/ca.pem' does not exist.")]
    [InlineData("CaFile", "KEY", null, null, "Mesh:Discovery:Etcd:CaFile: cannot be read as PEM")]
    [InlineData("Username", "reader", "Password", "secret", "Mesh:Discovery:Etcd:Endpoints:0: 'http://10.1.2.3:2379/' is plain http to another machine")]
    public async Task Settings_that_do_not_go_together_stop_the_start_naming_the_field(string key, string value, string? otherKey, string? otherValue, string expected)
    {
        using var authority = new TestAuthority();
        var issued = authority.Issue("mesh-client", client: true);
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:Discovery:Etcd:Endpoints:0"] = "http://10.1.2.3:2379/",
            ["Mesh:Services:inventory:Discovery:Source"] = DiscoverySourceNames.Etcd,
            [$"Mesh:Discovery:Etcd:{key}"] = value.Replace("CERT", issued.CertificateFile, StringComparison.Ordinal).Replace("KEY", issued.KeyFile, StringComparison.Ordinal),
        };
        if (otherKey is not null)
        {
            settings[$"Mesh:Discovery:Etcd:{otherKey}"] = otherValue;
        }

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddMesh();
        builder.Services.AddHttpClient("meshed").AddMesh();
        using var host = builder.Build();

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", failure.Message, StringComparison.Ordinal);
    }

    private static string Entry(TestBackend backend) =>
        $"{{\"address\":\"{backend.Address.GetLeftPart(UriPartial.Authority)}\",\"weight\":1}}";

    private static Dictionary<string, string?> Config(EtcdServer etcd) => new()
    {
        ["Mesh:Discovery:Etcd:Endpoints:0"] = etcd.Endpoint.ToString(),
        ["Mesh:Services:inventory:LoadBalancer"] = LoadBalancerNames.RoundRobin,
        ["Mesh:Services:inventory:Discovery:Source"] = DiscoverySourceNames.Etcd,
    };

    private static List<int> Endpoints(MeshTestHost host) =>
        host.Catalog.TryGetService("inventory", out var found) ? [.. found.Destination.Endpoints.Select(e => e.Endpoint.Address.Port).Order()] : [];
}
