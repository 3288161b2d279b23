using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Testing;

/// <summary>
/// Clients whose connections come from a chosen loopback address (127.0.0.2, 127.0.0.3, ...), so a test can be several
/// callers at once, and raw sockets for what HttpClient will not send.
/// </summary>
public static class LoopbackClients
{
    /// <summary>A handler connecting from <paramref name="from"/>, trusting exactly <paramref name="trust"/> when given.</summary>
    public static SocketsHttpHandler Handler(IPAddress from, X509Certificate2? trust = null)
    {
        ArgumentNullException.ThrowIfNull(from);
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(from, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        if (trust is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                certificate is not null && certificate.GetCertHashString() == trust.GetCertHashString();
        }

        return handler;
    }

    /// <summary>A TCP connection to <paramref name="server"/> from <paramref name="from"/> (127.0.0.1 when null).</summary>
    public static async Task<Socket> ConnectAsync(Uri server, IPAddress? from = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (from is not null)
            {
                socket.Bind(new IPEndPoint(from, 0));
            }

            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(server.Host), server.Port), cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads what the server sends on <paramref name="socket"/> until it closes the connection or
    /// <paramref name="timeout"/> passes; null when the connection was still open then.
    /// </summary>
    public static async Task<string?> ReadToCloseAsync(Socket socket, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(socket);
        using var limit = new CancellationTokenSource(timeout);
        var text = new System.Text.StringBuilder();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return text.ToString();
                }

                text.Append(System.Text.Encoding.Latin1.GetString(buffer, 0, read));
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (SocketException)
        {
            // Reset: closed, after whatever had arrived.
            return text.ToString();
        }
    }
}
