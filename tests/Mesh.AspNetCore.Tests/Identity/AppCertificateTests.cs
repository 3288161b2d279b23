using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>An endpoint the application gave its own certificate keeps it: the mesh's TLS goes only where the application served plaintext.</summary>
public sealed class AppCertificateTests : IDisposable
{
    private readonly MeshPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task An_https_endpoint_with_the_applications_own_certificate_is_left_alone()
    {
        using var certificate = TestCertificates.CreateLoopbackServer();
        await using var server = await MeshedServers.StartAsync(_pki, "Strict", appCertificate: certificate);
        string? presented = null;
        using var client = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => (presented = (c as X509Certificate2)?.Thumbprint) == certificate.Thumbprint },
        });

        var who = await client.GetFromJsonAsync<Who>(new Uri(server.Address, "/who"));

        Assert.Equal("https", server.Address.Scheme);
        Assert.Equal(certificate.Thumbprint, presented);
        Assert.True(who!.Https);
        Assert.Null(who.Id);
    }
}
