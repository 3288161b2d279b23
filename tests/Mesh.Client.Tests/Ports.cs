using System.Net;
using System.Net.Sockets;

namespace Mesh.Client.Tests;

internal static class Ports
{
    /// <summary>A loopback address on a port that was just free; nothing listens there, so connecting is refused at once.</summary>
    public static Uri Closed()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return new Uri($"http://127.0.0.1:{((IPEndPoint)socket.LocalEndPoint!).Port}");
    }
}
