using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Meshd.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Meshd.Tests.Security;

/// <summary>
/// meshd looks at its PEM files again every 5 s during handshakes: a renewed certificate reaches new connections
/// without a restart, and a renewal that cannot be used keeps the last good certificate and is logged once.
/// </summary>
public sealed class CertificateReloadTests
{
    [Fact]
    public async Task A_replaced_certificate_is_served_to_new_connections_without_a_restart()
    {
        using var authority = new TestAuthority();
        var (first, certificateFile, keyFile) = authority.Issue("meshd");
        var renewed = authority.Issue("meshd-renewed");
        using var directory = new TempDirectory();
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(
            directory.Path,
            ("Meshd:Urls", "https://127.0.0.1:0"), ("Meshd:Tls:CertificateFile", certificateFile), ("Meshd:Tls:KeyFile", keyFile)));
        Assert.Equal(first.GetCertHashString(), await ServedAsync(meshd.Address, authority));
        using var before = TestMeshd.ClientFrom(meshd.Address, TestMeshd.WorkloadToken, IPAddress.Loopback, first);
        Assert.Equal(HttpStatusCode.OK, (await before.GetAsync("/v1/snapshot")).StatusCode);

        Replace(renewed.KeyFile, keyFile);
        Replace(renewed.CertificateFile, certificateFile);

        await Eventually.WaitAsync(
            async () => await ServedAsync(meshd.Address, authority) == renewed.Certificate.GetCertHashString(),
            "new connections get the renewed certificate",
            TimeSpan.FromSeconds(30));
        using var after = TestMeshd.ClientFrom(meshd.Address, TestMeshd.WorkloadToken, IPAddress.Loopback, renewed.Certificate);
        Assert.Equal(HttpStatusCode.OK, (await after.GetAsync("/v1/snapshot")).StatusCode);

        // The connection opened before the renewal goes on as it was.
        Assert.Equal(HttpStatusCode.OK, (await before.GetAsync("/v1/snapshot")).StatusCode);
    }

    [Fact]
    public async Task A_broken_renewal_keeps_the_last_good_certificate_and_is_logged_once()
    {
        using var authority = new TestAuthority();
        var (first, certificateFile, keyFile) = authority.Issue("meshd");
        var renewed = authority.Issue("meshd-renewed");
        using var directory = new TempDirectory();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logs = new LogCollector();
        await using var meshd = await TestMeshd.StartAsync(
            TestMeshd.Settings(directory.Path, ("Meshd:Urls", "https://127.0.0.1:0"), ("Meshd:Tls:CertificateFile", certificateFile), ("Meshd:Tls:KeyFile", keyFile)),
            services =>
            {
                TestMeshd.Clock(time)(services);
                services.AddLogging(b => b.AddProvider(logs));
            });
        Assert.Equal(first.GetCertHashString(), await ServedAsync(meshd.Address, authority));

        // A renewal cut short. Each advance passes one 5 s check, which the next handshake runs.
        File.WriteAllText(certificateFile, "-----BEGIN CERTIFICATE-----\nMIIB\n");
        for (var check = 0; check < 3; check++)
        {
            time.Advance(TimeSpan.FromSeconds(6));
            Assert.Equal(first.GetCertHashString(), await ServedAsync(meshd.Address, authority));
        }

        var warning = Assert.Single(Warnings(logs));
        Assert.Contains(certificateFile, warning.Message, StringComparison.Ordinal);
        Assert.Contains("the previous one is served", warning.Message, StringComparison.Ordinal);

        // Repaired: the next check serves it, and nothing more is logged as a failure.
        Replace(renewed.KeyFile, keyFile);
        Replace(renewed.CertificateFile, certificateFile);
        await Eventually.WaitAsync(
            async () =>
            {
                time.Advance(TimeSpan.FromSeconds(6));
                return await ServedAsync(meshd.Address, authority) == renewed.Certificate.GetCertHashString();
            },
            "the repaired certificate is served");
        Assert.Single(Warnings(logs));
    }

    /// <summary>The thumbprint of the certificate a new TLS connection to meshd is given, which must chain to <paramref name="authority"/>.</summary>
    private static async Task<string> ServedAsync(Uri address, TestAuthority authority)
    {
        using var socket = await LoopbackClients.ConnectAsync(address);
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "127.0.0.1",
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(authority.Certificate);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return certificate is X509Certificate2 leaf && chain.Build(leaf);
            },
        });
        return tls.RemoteCertificate!.GetCertHashString();
    }

    /// <summary>Replaces <paramref name="target"/> whole (a copy renamed over it), as a certificate manager would.</summary>
    private static void Replace(string source, string target)
    {
        var next = target + ".next";
        File.Copy(source, next, overwrite: true);
        File.Move(next, target, overwrite: true);
    }

    private static List<LogCollector.Entry> Warnings(LogCollector logs) =>
        [.. logs.Entries.Where(e => e.Category == typeof(ServerCertificate).FullName && e.Level == LogLevel.Warning)];
}
