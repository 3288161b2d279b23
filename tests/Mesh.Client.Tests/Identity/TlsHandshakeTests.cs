using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;

namespace Mesh.Client.Tests.Identity;

/// <summary>
/// The pieces as the lead wires them, on real TLS over loopback: each handshake takes the holder's current certificate and
/// checks the peer against the holder's bundle and, on the client, against the identity expected.
/// </summary>
public sealed class TlsHandshakeTests : IDisposable
{
    private readonly TestPki _root = TestPki.CreateRoot("Mesh Root", trustDomain: "mesh.local");
    private readonly WorkloadCertificate _server = new(TimeProvider.System);
    private readonly WorkloadCertificate _client = new(TimeProvider.System);
    private readonly X509SvidValidator _validator = new(TimeProvider.System);
    private readonly TcpListener _listener;
    private readonly TestPki _intermediate;

    public TlsHandshakeTests()
    {
        _intermediate = _root.CreateIntermediate("Mesh Intermediate", trustDomain: "mesh.local");
        var bundle = TrustBundle.Create("mesh.local", [_root.Certificate]);
        _server.Update(Svid(_intermediate, "spiffe://mesh.local/svc/payments"), bundle);
        _client.Update(Svid(_root, "spiffe://mesh.local/svc/orders"), bundle);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Dispose();
        _server.Dispose();
        _client.Dispose();
        _intermediate.Dispose();
        _root.Dispose();
    }

    [Fact]
    public async Task Both_ends_prove_their_SPIFFE_IDs_through_an_intermediate()
    {
        var (server, client) = await HandshakeAsync(SpiffeId.ForService("mesh.local", "payments"));

        Assert.Equal("spiffe://mesh.local/svc/orders", server.PeerId?.ToString());
        Assert.Equal("spiffe://mesh.local/svc/payments", client.PeerId?.ToString());
        Assert.Null(client.Problem);
    }

    [Fact]
    public async Task A_rotated_certificate_is_presented_on_the_next_connection_without_new_settings()
    {
        var (_, before) = await HandshakeAsync(SpiffeId.ForService("mesh.local", "payments"));
        var renewed = Svid(_intermediate, "spiffe://mesh.local/svc/payments");

        _server.Update(renewed);
        var (_, after) = await HandshakeAsync(SpiffeId.ForService("mesh.local", "payments"));

        Assert.NotEqual(before.PeerSerial, after.PeerSerial);
        Assert.Equal(renewed.SerialNumber, after.PeerSerial);
    }

    [Fact]
    public async Task A_server_with_another_identity_than_expected_fails_the_handshake_naming_both()
    {
        var (_, client) = await HandshakeAsync(SpiffeId.ForService("mesh.local", "inventory"));

        Assert.IsAssignableFrom<AuthenticationException>(client.Error);
        Assert.Contains("presented the identity 'spiffe://mesh.local/svc/payments' where 'spiffe://mesh.local/svc/inventory' was expected", client.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_certificate_from_another_CA_is_refused_by_the_server()
    {
        using var stranger = TestPki.CreateRoot("Mesh Root", trustDomain: "mesh.local");
        _client.Update(Svid(stranger, "spiffe://mesh.local/svc/orders"));

        var (server, _) = await HandshakeAsync(SpiffeId.ForService("mesh.local", "payments"));

        Assert.NotNull(server.Error);
        Assert.Contains("does not chain to a root of trust domain 'mesh.local'", server.Problem, StringComparison.Ordinal);
    }

    private async Task<(Side Server, Side Client)> HandshakeAsync(SpiffeId expected)
    {
        var server = new Side();
        var client = new Side();
        var accept = Task.Run(async () =>
        {
            using var socket = await _listener.AcceptTcpClientAsync();
            await using var tls = new SslStream(socket.GetStream());
            try
            {
                // Per handshake: the options, and so the certificate, are taken from the holder for this connection.
                await tls.AuthenticateAsServerAsync(
                    (_, _, _, _) => ValueTask.FromResult(new SslServerAuthenticationOptions
                    {
                        ServerCertificateContext = _server.GetCurrent().Context,
                        ClientCertificateRequired = true,
                        RemoteCertificateValidationCallback = (_, certificate, chain, _) => server.Check(_validator.Validate(certificate, chain, _server.Bundle), null),
                    }),
                    null);
                await tls.WriteAsync(new byte[] { 1 });
            }
            catch (Exception ex) when (ex is AuthenticationException or IOException)
            {
                server.Error = ex;
            }
        });

        using (var socket = new TcpClient())
        {
            await socket.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port);
            await using var tls = new SslStream(socket.GetStream());
            try
            {
                var svid = _client.GetCurrent();
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = "payments",
                    ClientCertificateContext = svid.Context,
                    RemoteCertificateValidationCallback = (_, certificate, chain, _) => client.Check(_validator.Validate(certificate, chain, _client.Bundle), expected),
                });
                client.PeerSerial = (tls.RemoteCertificate as X509Certificate2)?.SerialNumber;
                var buffer = new byte[1];
                await tls.ReadExactlyAsync(buffer);
            }
            catch (Exception ex) when (ex is AuthenticationException or IOException)
            {
                client.Error = ex;
            }
        }

        await accept;
        return (server, client);
    }

    private static WorkloadSvid Svid(TestPki ca, string id)
    {
        using var leaf = ca.Issue(new TestLeaf { Uris = [id] });
        return WorkloadSvid.FromPem(ca.ChainPem(leaf), TestPki.KeyPemOf(leaf), "test");
    }

    private sealed class Side
    {
        public SpiffeId? PeerId { get; private set; }

        public string? PeerSerial { get; set; }

        public string? Problem { get; private set; }

        public Exception? Error { get; set; }

        public bool Check(SvidVerification verification, SpiffeId? expected)
        {
            if (!verification.IsValid)
            {
                Problem = verification.Problem;
                return false;
            }

            if (expected is not null && !X509SvidValidator.IsExpected(verification.Id, expected, out var problem))
            {
                Problem = problem;
                return false;
            }

            PeerId = verification.Id;
            return true;
        }
    }
}
