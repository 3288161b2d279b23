using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Mesh.Testing;

/// <summary>
/// The one way tests get loopback ports. Servers in the test's process bind port 0 and read the port they got (no race
/// at all). Where a port must be named before anything binds it, these helpers make the choice safe.
/// </summary>
public static class LoopbackPorts
{
    private const int Attempts = 5;

    /// <summary>
    /// A loopback address where connections are refused, for as long as the returned handle lives: its port is bound
    /// by this process but not listening, so no other process can take it and every connection is refused at once.
    /// </summary>
    /// <returns>The handle; dispose it at the end of the test.</returns>
    public static ClosedPort Closed() => new();

    /// <summary>
    /// Starts something that must be told its ports before it binds them (a child process such as etcd). Ports are
    /// picked by the system and handed to <paramref name="start"/>; when it fails because one of them was taken in the
    /// meantime (an exception whose message says the address is in use), it is tried again with new ports.
    /// </summary>
    /// <typeparam name="T">What <paramref name="start"/> returns.</typeparam>
    /// <param name="count">How many ports <paramref name="start"/> needs.</param>
    /// <param name="start">Starts the thing on the given ports.</param>
    /// <returns>What <paramref name="start"/> returned.</returns>
    public static async Task<T> StartAsync<T>(int count, Func<int[], Task<T>> start)
    {
        ArgumentNullException.ThrowIfNull(start);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start(Pick(count)).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < Attempts && InUse(ex))
            {
                // Another process took a port between its choice and its use: choose again.
            }
        }
    }

    private static int[] Pick(int count)
    {
        // Held together until all are chosen, so the system gives distinct ports.
        var sockets = new List<Socket>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            }

            return [.. sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port)];
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private static bool InUse(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }
                || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>A loopback port bound by this process and not listening: connections to <see cref="Address"/> are refused.</summary>
public sealed class ClosedPort : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    internal ClosedPort()
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Address = new Uri("http://127.0.0.1:" + ((IPEndPoint)_socket.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Gets <c>http://127.0.0.1:{port}</c>.</summary>
    public Uri Address { get; }

    /// <inheritdoc />
    public override string ToString() => Address.ToString();

    /// <inheritdoc />
    public void Dispose() => _socket.Dispose();
}
