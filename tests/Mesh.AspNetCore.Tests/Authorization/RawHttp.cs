using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Mesh.AspNetCore.Tests.Authorization;

/// <summary>Sends a request line exactly as written over a socket, so no client library normalises the path first.</summary>
internal static class RawHttp
{
    public static async Task<(int Status, string? Route)> SendAsync(Uri server, string method, string target, string host = "payments")
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, timeout.Token);
        var stream = client.GetStream();
        var request = $"{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request), timeout.Token);
        using var reader = new StreamReader(stream, Encoding.Latin1);
        var text = await reader.ReadToEndAsync(timeout.Token);
        var statusLine = text[..text.IndexOf("\r\n", StringComparison.Ordinal)];
        var status = int.Parse(statusLine.Split(' ')[1], CultureInfo.InvariantCulture);
        string? route = null;
        foreach (var line in text.Split("\r\n"))
        {
            if (line.StartsWith("x-route:", StringComparison.OrdinalIgnoreCase))
            {
                route = line["x-route:".Length..].Trim();
            }

            if (line.Length == 0)
            {
                break;
            }
        }

        return (status, route);
    }
}
