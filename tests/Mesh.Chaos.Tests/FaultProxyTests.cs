using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Mesh.Chaos.Tests;

/// <summary>The fault proxy of <c>Mesh.Testing</c>, each mode against a real backend, switched while it runs.</summary>
public sealed class FaultProxyTests : IAsyncLifetime
{
    private TestBackend _backend = null!;

    public async Task InitializeAsync() => _backend = await TestBackend.StartAsync("upstream");

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Fact]
    public async Task PassesThenAddsLatency()
    {
        await using var proxy = FaultProxy.Start(_backend.Address);
        Assert.Equal("upstream", await GetAsync(proxy));

        proxy.Latency = TimeSpan.FromMilliseconds(400);
        proxy.Mode = FaultMode.Latency;
        var clock = Stopwatch.StartNew();
        Assert.Equal("upstream", await GetAsync(proxy));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(390), $"took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task BlackholeHoldsTheConnectionAndNeverAnswers()
    {
        await using var proxy = FaultProxy.Start(_backend.Address);
        proxy.Mode = FaultMode.Blackhole;
        var requests = _backend.Requests;
        using var client = Client();
        var call = client.GetAsync(proxy.Address);
        await Eventually.WaitAsync(() => proxy.Open == 1, "the connection held");
        Assert.False(call.IsCompleted);
        await Assert.ThrowsAnyAsync<TaskCanceledException>(() => call);
        Assert.Equal(requests, _backend.Requests);
    }

    [Fact]
    public async Task ResetsNewConnectionsAndOpenOnes()
    {
        await using var proxy = FaultProxy.Start(_backend.Address);
        proxy.Mode = FaultMode.Reset;
        await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync(proxy));

        // Mid-stream: a connection opened in Pass is reset at its next chunk.
        proxy.Mode = FaultMode.Pass;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, proxy.Port);
        await Eventually.WaitAsync(() => proxy.Open == 1, "the connection open");
        proxy.Mode = FaultMode.Reset;
        await socket.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
        var error = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            var buffer = new byte[1024];
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }

            throw new SocketException((int)SocketError.Success);
        });
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
    }

    [Fact]
    public async Task TricklesAtTheRate()
    {
        await using var proxy = FaultProxy.Start(_backend.Address);
        proxy.TrickleBytesPerSecond = 200;
        proxy.Mode = FaultMode.Trickle;
        var clock = Stopwatch.StartNew();
        Assert.Equal("upstream", await GetAsync(proxy));

        // The echo's head and body are over 200 bytes: at 200 a second, more than a second.
        Assert.True(proxy.BytesDown > 200, $"{proxy.BytesDown} bytes");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1), $"took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task RefusesThenListensAgainOnTheSamePort()
    {
        await using var proxy = FaultProxy.Start(_backend.Address);
        var port = proxy.Port;
        proxy.Mode = FaultMode.Refuse;
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync(proxy));
        Assert.Equal(HttpRequestError.ConnectionError, refused.HttpRequestError);

        proxy.Mode = FaultMode.Pass;
        Assert.Equal(port, proxy.Port);
        Assert.Equal("upstream", await GetAsync(proxy));
    }

    [Fact]
    public async Task CapsConnectionsAndClosesEveryOneOnDispose()
    {
        var proxy = FaultProxy.Start(_backend.Address, maxConnections: 2);
        proxy.Mode = FaultMode.Blackhole;
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                await socket.ConnectAsync(IPAddress.Loopback, proxy.Port);
            }

            await Eventually.WaitAsync(() => proxy.Open == 2 && proxy.Rejected == 1, "two held, one rejected");
            await proxy.DisposeAsync();
            Assert.Equal(0, proxy.Open);

            // Every held connection is closed: its reads end.
            foreach (var socket in sockets.Take(2))
            {
                var buffer = new byte[16];
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                var read = 1;
                try
                {
                    read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                }
                catch (SocketException)
                {
                    read = 0;
                }

                Assert.Equal(0, read);
            }

            using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await Assert.ThrowsAsync<SocketException>(() => again.ConnectAsync(IPAddress.Loopback, proxy.Port));
        }
        finally
        {
            await proxy.DisposeAsync();
            sockets.ForEach(s => s.Dispose());
        }
    }

    private static HttpClient Client() => new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero }) { Timeout = TimeSpan.FromSeconds(1.5) };

    private static async Task<string> GetAsync(FaultProxy proxy)
    {
        using var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero }) { Timeout = TimeSpan.FromSeconds(20) };
        using var response = await client.GetAsync(proxy.Address);
        return (await TestBackend.ReadEchoAsync(response)).Backend;
    }
}
