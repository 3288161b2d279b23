using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Mesh.WatchBench;

/// <summary>
/// A separate process holding watchers: one raw HTTP/1.1 connection each, from the given loopback addresses, parked on
/// <c>GET /v1/snapshot?since=</c>. Each answer is timestamped (Stopwatch ticks, the same clock in every process here)
/// and the watcher parks again at once; when every watcher has its n-th answer, one line reports them.
/// </summary>
internal static class Worker
{
    public static async Task<int> ParkAsync(Uri meshd, string token, int count, IPAddress[] from, long version, CancellationToken cancel)
    {
        var rounds = new Dictionary<int, List<long>>();
        var gate = new Lock();
        var connections = new List<Socket>(count);
        for (var i = 0; i < count; i++)
        {
            connections.Add(await ConnectAsync(meshd, from[i % from.Length], cancel));
        }

        // The request is encoded again only when the version changes, so a watcher's own work per answer stays small:
        // the worker shares the machine's cores with meshd, and its cost would count in the delivery time.
        var request = (long since) => Encoding.ASCII.GetBytes($"GET /v1/snapshot?since={since.ToString(CultureInfo.InvariantCulture)}&wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n");
        var encoded = new Dictionary<long, byte[]>();
        byte[] RequestFor(long since)
        {
            lock (encoded)
            {
                if (!encoded.TryGetValue(since, out var bytes))
                {
                    encoded[since] = bytes = request(since);
                }

                return bytes;
            }
        }

        var loops = connections.Select(async socket =>
        {
            var since = version;
            var answers = 0;
            var buffer = new byte[64 * 1024];
            while (!cancel.IsCancellationRequested)
            {
                await socket.SendAsync(RequestFor(since), SocketFlags.None, cancel);
                var (status, next) = await ReadAnswerAsync(socket, buffer, cancel);
                var at = Stopwatch.GetTimestamp();
                if (status == 200)
                {
                    since = next;
                    answers++;
                    string? line = null;
                    lock (gate)
                    {
                        if (!rounds.TryGetValue(answers, out var list))
                        {
                            rounds[answers] = list = new List<long>(count);
                        }

                        list.Add(at);
                        if (list.Count == count)
                        {
                            line = $"round {answers} {string.Join(' ', list)}";
                            rounds.Remove(answers);
                        }
                    }

                    if (line is not null)
                    {
                        Console.WriteLine(line);
                    }
                }
                else if (status != 304)
                {
                    Console.WriteLine($"error status {status}");
                    return;
                }
            }
        }).ToList();
        Console.WriteLine($"parked {count}");
        try
        {
            await Task.WhenAll(loops);
        }
        catch (Exception) when (cancel.IsCancellationRequested)
        {
        }

        connections.ForEach(c => c.Dispose());
        return 0;
    }

    /// <summary>Opens connections and keeps them idle; reports how many stayed open and how many meshd refused (answered or closed).</summary>
    public static async Task<int> FloodAsync(Uri meshd, int count, IPAddress[] from, CancellationToken cancel)
    {
        var sockets = new List<Socket>(count);
        var refused = 0;
        var answered = 0;
        for (var i = 0; i < count; i++)
        {
            try
            {
                sockets.Add(await ConnectAsync(meshd, from[i % from.Length], cancel));
            }
            catch (SocketException)
            {
                refused++;
            }
        }

        // A refused connection is answered (503/429) within about a second or closed; an open one stays silent.
        var probes = sockets.Select(async s =>
        {
            var buffer = new byte[512];
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            wait.CancelAfter(TimeSpan.FromSeconds(5));
            try
            {
                var read = await s.ReceiveAsync(buffer, SocketFlags.None, wait.Token);
                return read > 0 && Encoding.ASCII.GetString(buffer, 0, read).StartsWith("HTTP/1.1 503", StringComparison.Ordinal) ? 2 : 1;
            }
            catch (OperationCanceledException)
            {
                return 0;
            }
            catch (SocketException)
            {
                return 1;
            }
        }).ToList();
        var outcomes = await Task.WhenAll(probes);
        answered = outcomes.Count(o => o == 2);
        refused += outcomes.Count(o => o == 1);
        Console.WriteLine($"flood open {outcomes.Count(o => o == 0)} refused503 {answered} closed {refused}");

        // Held until told to let go, so the parent can check meshd while they are all open.
        await Console.In.ReadLineAsync(cancel);
        sockets.ForEach(s => s.Dispose());
        return 0;
    }

    private static async Task<Socket> ConnectAsync(Uri meshd, IPAddress from, CancellationToken cancel)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(from, 0));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(meshd.Host), meshd.Port), cancel);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A numeric header's value in a response head, 0 when absent (header names as meshd writes them).</summary>
    private static long Header(ReadOnlySpan<byte> head, ReadOnlySpan<byte> name)
    {
        var at = head.IndexOf(name);
        if (at < 0)
        {
            return 0;
        }

        var value = head[(at + name.Length)..];
        var end = value.IndexOf("\r\n"u8);
        return long.Parse(value[..(end < 0 ? value.Length : end)].Trim((byte)' '), CultureInfo.InvariantCulture);
    }

    private static async Task<(int Status, long Version)> ReadAnswerAsync(Socket socket, byte[] buffer, CancellationToken cancel)
    {
        var filled = 0;
        int headEnd;
        while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancel);
            if (read == 0)
            {
                throw new IOException("meshd closed the connection.");
            }

            filled += read;
        }

        var head = buffer.AsSpan(0, headEnd);
        var status = int.Parse(head.Slice(9, 3), CultureInfo.InvariantCulture);
        var length = Header(head, "\r\nContent-Length:"u8);
        var version = Header(head, "\r\nMesh-Version:"u8);
        var remaining = length - (filled - headEnd - 4);
        while (remaining > 0)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel);
            if (read == 0)
            {
                throw new IOException("meshd closed the connection mid-answer.");
            }

            remaining -= read;
        }

        return (status, version);
    }
}
