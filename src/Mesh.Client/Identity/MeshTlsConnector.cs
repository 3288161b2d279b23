using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Identity;

/// <summary>
/// Opens the connections of a meshed client: to an endpoint that must present a mesh identity, a TCP connection with
/// mutual TLS in it — the workload's current certificate chosen for this handshake (so rotation needs no new handler
/// and drops no connection), the peer's chain checked against the mesh's trust bundle only and its SPIFFE ID against the
/// one its service must have; to any other host, a plain TCP connection (over which HttpClient does its own TLS for
/// <c>https</c>). The connection pool keeps and reuses what this opens, so handshakes follow connections, not requests.
/// </summary>
internal sealed class MeshTlsConnector(EndpointIdentities identities, WorkloadCertificate workload, X509SvidValidator validator, IdentityMetrics metrics)
{
    private static readonly List<SslApplicationProtocol> s_http2 = [SslApplicationProtocol.Http2];
    private static readonly List<SslApplicationProtocol> s_http11 = [SslApplicationProtocol.Http11];

    /// <summary>The connection callback of a <see cref="SocketsHttpHandler"/>.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var endpoint = context.DnsEndPoint;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var network = new NetworkStream(socket, ownsSocket: true);
        if (!identities.TryGet(endpoint.Host, endpoint.Port, out var expected))
        {
            return network;
        }

        try
        {
            return await AuthenticateAsync(network, endpoint, expected, context.InitialRequestMessage, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await network.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<Stream> AuthenticateAsync(NetworkStream network, DnsEndPoint endpoint, SpiffeId expected, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        WorkloadSvid svid;
        try
        {
            svid = workload.GetCurrent();
        }
        catch (WorkloadCertificateUnavailableException ex)
        {
            // This workload's own failure, not the endpoint's: UserAuthenticationError tells the layers above not to count
            // it against the endpoint nor to try another in its place (each would fail the same way).
            metrics.Unavailable.Add(1);
            throw new HttpRequestException(HttpRequestError.UserAuthenticationError, $"No connection to {endpoint.Host}:{endpoint.Port} (identity '{expected}'): {ex.Message}", ex);
        }

        var verification = default(SvidVerification);
        var bundle = workload.Bundle;
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = endpoint.Host,
            ClientCertificateContext = svid.Context,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,

            // The protocol the pool will speak on this connection, never a choice left to the server.
            ApplicationProtocols = request.Version.Major >= 2 ? s_http2 : s_http11,
            RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
            {
                // The system's verdict (sslPolicyErrors) is ignored: mesh identities chain to the mesh's bundle, not to public roots.
                verification = validator.Validate(certificate, chain, bundle);
                return verification.Id is { } presented && presented == expected;
            },
        };

        var tls = new SslStream(network, leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
            metrics.Handshakes.Add(1, new KeyValuePair<string, object?>(IdentityMetrics.OutcomeTag, "ok"));
            return tls;
        }
        catch (AuthenticationException ex)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            var presented = verification.Id;
            metrics.Handshakes.Add(1, new KeyValuePair<string, object?>(IdentityMetrics.OutcomeTag, presented is null ? "untrusted" : "wrong_identity"));
            var problem = presented is not null
                ? $"it presented '{presented}'"
                : verification.Problem is { } refused ? $"its certificate was refused: {refused}" : $"the handshake failed: {ex.Message}";
            throw new MeshIdentityMismatchException(expected, presented, problem, ex);
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
