using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Mesh.Testing;

/// <summary>What a <see cref="FaultProxy"/> does to the traffic it carries.</summary>
public enum FaultMode
{
    /// <summary>Bytes pass both ways as they come.</summary>
    Pass,

    /// <summary>Each chunk from the upstream waits <see cref="FaultProxy.Latency"/> before it is passed on.</summary>
    Latency,

    /// <summary>New connections are accepted and held, never answered; open ones stop passing anything.</summary>
    Blackhole,

    /// <summary>New connections are reset (RST) at once; open ones are reset at their next chunk.</summary>
    Reset,

    /// <summary>Bytes from the upstream pass at <see cref="FaultProxy.TrickleBytesPerSecond"/>, a few at a time.</summary>
    Trickle,

    /// <summary>The proxy stops listening: new connections are refused; open ones go on as in <see cref="Pass"/>.</summary>
    Refuse,
}

/// <summary>
/// A TCP proxy on 127.0.0.1 (a port of its own, kept across <see cref="FaultMode.Refuse"/>) in front of one upstream,
/// whose <see cref="Mode"/> can be switched while traffic runs. Bounded: at most <see cref="MaxConnections"/> connections
/// (one more is closed at once and counted in <see cref="Rejected"/>), one buffer of <see cref="BufferSize"/> bytes per
/// direction and connection; every socket it opened is closed on dispose.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly ConcurrentDictionary<long, Connection> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _listenerLock = new();
    private Socket? _listener;
    private Task _accepting = Task.CompletedTask;
    private long _nextId;
    private long _accepted;
    private long _rejected;
    private long _bytesUp;
    private long _bytesDown;
    private int _mode;
    private long _latencyTicks = TimeSpan.FromMilliseconds(200).Ticks;
    private int _trickleRate = 64;

    private FaultProxy(EndPoint upstream, int maxConnections, int bufferSize)
    {
        Upstream = upstream;
        MaxConnections = maxConnections;
        BufferSize = bufferSize;
    }

    /// <summary>Gets the upstream every connection is passed to.</summary>
    public EndPoint Upstream { get; }

    /// <summary>Gets the most connections held at once.</summary>
    public int MaxConnections { get; }

    /// <summary>Gets the size of each direction's buffer.</summary>
    public int BufferSize { get; }

    /// <summary>Gets the proxy's own port on 127.0.0.1.</summary>
    public int Port { get; private set; }

    /// <summary>Gets the proxy's address as an <c>http</c> URI (<c>http://127.0.0.1:{Port}</c>).</summary>
    public Uri Address => new($"http://127.0.0.1:{Port}");

    /// <summary>Gets or sets what the proxy does now; a switch applies to open connections at their next chunk.</summary>
    public FaultMode Mode
    {
        get => (FaultMode)Volatile.Read(ref _mode);
        set
        {
            Volatile.Write(ref _mode, (int)value);
            if (value == FaultMode.Refuse)
            {
                StopListening();
            }
            else
            {
                Listen();
            }
        }
    }

    /// <summary>Gets or sets the delay of <see cref="FaultMode.Latency"/> (200 ms to begin with).</summary>
    public TimeSpan Latency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
        set => Interlocked.Exchange(ref _latencyTicks, value.Ticks);
    }

    /// <summary>Gets or sets the rate of <see cref="FaultMode.Trickle"/> in bytes per second (64 to begin with, 1 to 1 MiB).</summary>
    public int TrickleBytesPerSecond
    {
        get => Volatile.Read(ref _trickleRate);
        set => Volatile.Write(ref _trickleRate, Math.Clamp(value, 1, 1 << 20));
    }

    /// <summary>Gets the number of connections accepted and kept (not rejected at the cap).</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Gets the number of connections closed at once because <see cref="MaxConnections"/> were open.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Gets the number of connections open now.</summary>
    public int Open => _connections.Count;

    /// <summary>Gets the bytes passed from callers to the upstream.</summary>
    public long BytesUp => Interlocked.Read(ref _bytesUp);

    /// <summary>Gets the bytes passed from the upstream to callers.</summary>
    public long BytesDown => Interlocked.Read(ref _bytesDown);

    /// <summary>Starts a proxy in front of <paramref name="upstream"/> (<c>http://127.0.0.1:port</c>: its host and port are used).</summary>
    public static FaultProxy Start(Uri upstream, int maxConnections = 256, int bufferSize = 16 * 1024)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        return Start(new IPEndPoint(IPAddress.Parse(upstream.Host), upstream.Port), maxConnections, bufferSize);
    }

    /// <summary>Starts a proxy in front of <paramref name="upstream"/>.</summary>
    public static FaultProxy Start(EndPoint upstream, int maxConnections = 256, int bufferSize = 16 * 1024)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 256);
        var proxy = new FaultProxy(upstream, maxConnections, bufferSize);
        proxy.Listen();
        return proxy;
    }

    /// <summary>Resets every open connection (RST), whatever the mode.</summary>
    public void ResetAll()
    {
        foreach (var connection in _connections.Values)
        {
            connection.Reset();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        StopListening();
        var pumps = new List<Task>();
        foreach (var connection in _connections.Values)
        {
            connection.Close();
            pumps.Add(connection.Pumps);
        }

        await _accepting.ConfigureAwait(false);
        await Task.WhenAll(pumps).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private void Listen()
    {
        lock (_listenerLock)
        {
            if (_listener is not null || _stopping.IsCancellationRequested)
            {
                return;
            }

            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, Port));
            listener.Listen(128);
            Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            _listener = listener;
            var previous = _accepting;
            _accepting = Task.WhenAll(previous, AcceptAsync(listener));
        }
    }

    private void StopListening()
    {
        lock (_listenerLock)
        {
            _listener?.Dispose();
            _listener = null;
        }
    }

    private async Task AcceptAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            if (_connections.Count >= MaxConnections)
            {
                Interlocked.Increment(ref _rejected);
                client.Dispose();
                continue;
            }

            var mode = Mode;
            if (mode == FaultMode.Reset)
            {
                Interlocked.Increment(ref _accepted);
                client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            Interlocked.Increment(ref _accepted);
            var id = Interlocked.Increment(ref _nextId);
            var connection = new Connection(this, client);
            _connections[id] = connection;
            connection.Pumps = RunAsync(id, connection, mode);
        }
    }

    private async Task RunAsync(long id, Connection connection, FaultMode modeAtAccept)
    {
        try
        {
            if (modeAtAccept == FaultMode.Blackhole)
            {
                // Held: what the caller sends is read and dropped, nothing is answered, until it gives up or the proxy is disposed.
                await DrainAsync(connection.Client, connection.Token).ConfigureAwait(false);
                return;
            }

            try
            {
                await connection.Upstream.ConnectAsync(Upstream, connection.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The upstream is gone: the caller sees its connection reset, as it would without the proxy.
                connection.Reset();
                return;
            }

            var up = PumpAsync(connection, connection.Client, connection.Upstream, toUpstream: true);
            var down = PumpAsync(connection, connection.Upstream, connection.Client, toUpstream: false);
            await Task.WhenAny(up, down).ConfigureAwait(false);
            connection.Close();
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(id, out _);
            connection.Close();
        }
    }

    private async Task PumpAsync(Connection connection, Socket from, Socket to, bool toUpstream)
    {
        var buffer = new byte[BufferSize];
        var token = connection.Token;
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, token).ConfigureAwait(false);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    await DrainAsync(from, token).ConfigureAwait(false);
                    return;
                }

                switch (Mode)
                {
                    case FaultMode.Reset:
                        connection.Reset();
                        return;
                    case FaultMode.Blackhole:
                        // Dropped: the connection stays open and silent.
                        continue;
                    case FaultMode.Latency when !toUpstream:
                        await Task.Delay(Latency, token).ConfigureAwait(false);
                        break;
                    case FaultMode.Trickle when !toUpstream:
                        await TrickleAsync(to, buffer.AsMemory(0, read), token).ConfigureAwait(false);
                        continue;
                }

                // Counted before it is sent, so a caller that has its answer sees it counted.
                if (toUpstream)
                {
                    Interlocked.Add(ref _bytesUp, read);
                }
                else
                {
                    Interlocked.Add(ref _bytesDown, read);
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The other side went away or the proxy is stopping.
        }
    }

    private async Task TrickleAsync(Socket to, ReadOnlyMemory<byte> bytes, CancellationToken token)
    {
        // Ten pieces a second at most, each the rate's tenth (at least one byte).
        while (!bytes.IsEmpty)
        {
            var rate = TrickleBytesPerSecond;
            var piece = Math.Min(bytes.Length, Math.Max(1, rate / 10));
            Interlocked.Add(ref _bytesDown, piece);
            await to.SendAsync(bytes[..piece], SocketFlags.None, token).ConfigureAwait(false);
            bytes = bytes[piece..];
            await Task.Delay(TimeSpan.FromSeconds(piece / (double)rate), token).ConfigureAwait(false);
        }
    }

    private static async Task DrainAsync(Socket socket, CancellationToken token)
    {
        var sink = new byte[1024];
        try
        {
            while (await socket.ReceiveAsync(sink, SocketFlags.None, token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private sealed class Connection
    {
        private readonly CancellationTokenSource _closing;
        private int _closed;

        public Connection(FaultProxy proxy, Socket client)
        {
            Client = client;
            Upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _closing = CancellationTokenSource.CreateLinkedTokenSource(proxy._stopping.Token);
            Token = _closing.Token;
        }

        public Socket Client { get; }

        public Socket Upstream { get; }

        public CancellationToken Token { get; }

        public Task Pumps { get; set; } = Task.CompletedTask;

        public void Reset()
        {
            try
            {
                Client.LingerState = new LingerOption(true, 0);
                Upstream.LingerState = new LingerOption(true, 0);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }

            Close();
        }

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                try
                {
                    _closing.Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
                finally
                {
                    _closing.Dispose();
                }

                Client.Dispose();
                Upstream.Dispose();
            }
        }
    }
}
