using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Meshd.Tests.Infrastructure;

namespace Meshd.Tests.Connections;

/// <summary>
/// Issue #15, item 1: idle connections without a token crashed meshd. Connections are limited in total and per client
/// address; past a limit new ones are refused with a status and Retry-After while open ones are served; meshd raises
/// its own file limit and keeps descriptors in reserve.
/// </summary>
public sealed class ConnectionLimitTests
{
    private static readonly byte[] s_healthz = Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");

    [Fact]
    public async Task Past_the_limits_new_connections_get_429_or_503_with_retry_after_and_open_ones_are_still_served()
    {
        await using var meshd = await TestMeshd.StartAsync(("Meshd:Limits:MaxConnections", "12"), ("Meshd:Limits:MaxConnectionsPerAddress", "6"));
        var sockets = new List<Socket>();
        try
        {
            // Six idle connections from 127.0.0.2 fill its share; the seventh is refused with 429.
            for (var i = 0; i < 6; i++)
            {
                sockets.Add(await LoopbackClients.ConnectAsync(meshd.Address, IPAddress.Parse("127.0.0.2")));
            }

            await Eventually.WaitAsync(() => Limiter(meshd).Open == 6, "six connections counted");
            var perAddress = await RefusedAsync(meshd.Address, IPAddress.Parse("127.0.0.2"));
            Assert.StartsWith("HTTP/1.1 429 Too Many Requests", perAddress, StringComparison.Ordinal);
            Assert.Contains("Retry-After: ", perAddress, StringComparison.Ordinal);
            Assert.Contains("MaxConnectionsPerAddress", perAddress, StringComparison.Ordinal);

            // Another address still gets in, up to the total; past it, 503.
            for (var i = 0; i < 6; i++)
            {
                sockets.Add(await LoopbackClients.ConnectAsync(meshd.Address, IPAddress.Parse("127.0.0.3")));
            }

            await Eventually.WaitAsync(() => Limiter(meshd).Open == 12, "twelve connections counted");
            var total = await RefusedAsync(meshd.Address, IPAddress.Parse("127.0.0.4"));
            Assert.StartsWith("HTTP/1.1 503 Service Unavailable", total, StringComparison.Ordinal);
            Assert.Contains("Retry-After: ", total, StringComparison.Ordinal);

            // What is open is still served.
            await sockets[0].SendAsync(s_healthz);
            Assert.StartsWith("HTTP/1.1 200", await ReadAnswerAsync(sockets[0]), StringComparison.Ordinal);

            // Once connections close, new ones are taken again.
            foreach (var socket in sockets.Skip(6))
            {
                socket.Dispose();
            }

            await Eventually.WaitAsync(() => Limiter(meshd).Open == 6, "closed connections leave the count");
            using var client = TestMeshd.ClientFrom(meshd.Address, null, IPAddress.Parse("127.0.0.4"));
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task Meshd_raises_its_soft_file_limit_to_the_hard_one()
    {
        var hard = HardLimit();
        using var directory = new TempDirectory();
        using var meshd = await MeshdProcess.StartAsync(TestMeshd.Settings(directory.Path), $"ulimit -S -n 256");
        var limits = await File.ReadAllLinesAsync($"/proc/{meshd.Pid}/limits");
        var files = limits.Single(l => l.StartsWith("Max open files", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(hard.ToString(CultureInfo.InvariantCulture), files[3]);
        Assert.Equal(hard.ToString(CultureInfo.InvariantCulture), files[4]);
    }

    [Fact]
    public async Task With_a_file_limit_of_1024_1100_idle_connections_neither_crash_meshd_nor_stop_it_serving()
    {
        using var directory = new TempDirectory();
        using var meshd = await MeshdProcess.StartAsync(TestMeshd.Settings(directory.Path, ("Meshd:Limits:MaxConnectionsPerAddress", "2000")), "ulimit -n 1024");
        var address = new Uri($"http://127.0.0.1:{meshd.Address.Port}");
        using var before = await LoopbackClients.ConnectAsync(address);
        var flood = new List<Socket>();
        try
        {
            var resetAtConnect = 0;
            for (var i = 0; i < 1100; i++)
            {
                try
                {
                    flood.Add(await LoopbackClients.ConnectAsync(address));
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
                {
                    // Refused so fast that the reset came before the connect completed here.
                    resetAtConnect++;
                }
            }

            // 512 connections are taken (1024 less the reserve of 512 descriptors); each one past them is refused at
            // once, answered or closed, never left hanging; the ones taken stay open.
            var answers = await Task.WhenAll(flood.Select(s => LoopbackClients.ReadToCloseAsync(s, TimeSpan.FromSeconds(10))));
            Assert.Equal(1100 - (1024 - 512 - 1), resetAtConnect + answers.Count(a => a is not null));
            Assert.Contains(answers, a => a is not null && a.StartsWith("HTTP/1.1 503", StringComparison.Ordinal) && a.Contains("Retry-After: ", StringComparison.Ordinal));

            // The connection opened before the flood is served, and meshd is alive.
            await before.SendAsync(s_healthz);
            Assert.StartsWith("HTTP/1.1 200", await ReadAnswerAsync(before), StringComparison.Ordinal);
            Assert.False(meshd.HasExited, meshd.Output);
        }
        finally
        {
            foreach (var socket in flood)
            {
                socket.Dispose();
            }
        }

        // Once the flood is gone, new connections are served again.
        using var client = TestMeshd.Client(address, TestMeshd.WorkloadToken);
        await Eventually.WaitAsync(async () => (await client.GetAsync("/healthz")).StatusCode == HttpStatusCode.OK, "meshd serves new connections", TimeSpan.FromSeconds(30));
        Assert.False(meshd.HasExited, meshd.Output);
    }

    private static global::Meshd.Connections.ConnectionLimiter Limiter(TestMeshd meshd) =>
        Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<global::Meshd.Connections.ConnectionLimiter>(meshd.Host.Services);

    private static async Task<string> RefusedAsync(Uri address, IPAddress from)
    {
        using var socket = await LoopbackClients.ConnectAsync(address, from);
        await socket.SendAsync(s_healthz);
        return await LoopbackClients.ReadToCloseAsync(socket, TimeSpan.FromSeconds(10)) ?? "(still open)";
    }

    private static async Task<string> ReadAnswerAsync(Socket socket)
    {
        var buffer = new byte[8192];
        var text = new StringBuilder();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (!text.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
            if (read == 0)
            {
                break;
            }

            text.Append(Encoding.Latin1.GetString(buffer, 0, read));
        }

        return text.ToString();
    }

    private static long HardLimit()
    {
        var line = File.ReadAllLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4], CultureInfo.InvariantCulture);
    }
}
