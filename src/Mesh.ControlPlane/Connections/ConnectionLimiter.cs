using System.Buffers;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace Meshd.Connections;

/// <summary>
/// Counts every open connection, in total and per client address, before TLS or HTTP sees it. A connection over
/// <c>Meshd:Limits:MaxConnections</c> or <c>MaxConnectionsPerAddress</c> is refused at once: on plain HTTP with an
/// answer (<c>503</c> or <c>429</c>, <c>Retry-After</c>, <c>Connection: close</c>) once its request head has arrived,
/// over TLS by closing it. The connections already open keep being served. Refusals are bounded in number too, so a
/// flood never takes the descriptors meshd keeps in reserve for itself.
/// </summary>
internal sealed partial class ConnectionLimiter(int maxConnections, int maxPerAddress, int maxRefusing, TimeProvider time, ILogger<ConnectionLimiter> logger)
{
    private static readonly TimeSpan s_headWait = TimeSpan.FromSeconds(1);
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private int _open;
    private int _refusing;
    private long _refused;
    private long _lastWarning;

    public int MaxConnections => maxConnections;

    public int MaxPerAddress => maxPerAddress;

    /// <summary>Gets the connections open now (refused ones not counted).</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Gets the connections refused since start.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public ConnectionDelegate Middleware(ConnectionDelegate next) => async connection =>
    {
        var address = (connection.RemoteEndPoint as IPEndPoint)?.Address is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip) : IPAddress.None;
        var refusal = TryEnter(address);
        if (refusal is null)
        {
            try
            {
                await next(connection).ConfigureAwait(false);
            }
            finally
            {
                Leave(address);
            }

            return;
        }

        Interlocked.Increment(ref _refused);
        Warn(refusal.Value.Detail);
        if (Interlocked.Increment(ref _refusing) > maxRefusing)
        {
            Interlocked.Decrement(ref _refusing);
            connection.Abort();
            return;
        }

        try
        {
            await RefuseAsync(connection, refusal.Value.Status, refusal.Value.Detail).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _refusing);
        }
    };

    private (int Status, string Detail)? TryEnter(IPAddress address)
    {
        lock (_lock)
        {
            if (_open >= maxConnections)
            {
                return (StatusCodes.Status503ServiceUnavailable, $"meshd has {maxConnections} connections open, its limit (Meshd:Limits:MaxConnections).");
            }

            var mine = _perAddress.GetValueOrDefault(address);
            if (mine >= maxPerAddress)
            {
                return (StatusCodes.Status429TooManyRequests, $"{address} has {maxPerAddress} connections open to meshd, the limit per address (Meshd:Limits:MaxConnectionsPerAddress).");
            }

            _perAddress[address] = mine + 1;
            _open++;
            return null;
        }
    }

    private void Leave(IPAddress address)
    {
        lock (_lock)
        {
            _open--;
            var mine = _perAddress.GetValueOrDefault(address) - 1;
            if (mine <= 0)
            {
                _perAddress.Remove(address);
            }
            else
            {
                _perAddress[address] = mine;
            }
        }
    }

    private async Task RefuseAsync(ConnectionContext connection, int status, string detail)
    {
        // The request head is read first, so closing does not reset a connection whose request is still arriving.
        using var wait = new CancellationTokenSource(s_headWait, time);
        try
        {
            while (true)
            {
                var read = await connection.Transport.Input.ReadAsync(wait.Token).ConfigureAwait(false);
                var buffer = read.Buffer;
                if (buffer.Length > 0 && buffer.FirstSpan[0] == 0x16)
                {
                    // A TLS handshake: no HTTP answer can be given before it, and it is not worth its cost now.
                    connection.Transport.Input.AdvanceTo(buffer.End);
                    connection.Abort();
                    return;
                }

                if (EndOfHead(buffer) is { } end)
                {
                    connection.Transport.Input.AdvanceTo(end);
                    break;
                }

                if (read.IsCompleted || buffer.Length >= 8192)
                {
                    connection.Transport.Input.AdvanceTo(buffer.End);
                    break;
                }

                connection.Transport.Input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (OperationCanceledException)
        {
            // No request in time: answer anyway.
        }

        var body = Encoding.UTF8.GetBytes($$"""{"type":"about:blank","title":"{{(status == 503 ? "Service unavailable" : "Too many requests")}}","status":{{status}},"detail":"{{detail}} Try again later."}""");
        var head = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status} {(status == 503 ? "Service Unavailable" : "Too Many Requests")}\r\nRetry-After: {2 + Random.Shared.Next(3)}\r\n" +
            $"Content-Type: application/problem+json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        try
        {
            await connection.Transport.Output.WriteAsync(head).ConfigureAwait(false);
            await connection.Transport.Output.WriteAsync(body).ConfigureAwait(false);
            await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ObjectDisposedException or InvalidOperationException)
        {
            // The client is gone already.
        }
    }

    private static SequencePosition? EndOfHead(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8, advancePastDelimiter: true) ? reader.Position : null;
    }

    private void Warn(string detail)
    {
        // At most one line every ten seconds, however many connections a flood brings.
        var now = time.GetTimestamp();
        var last = Interlocked.Read(ref _lastWarning);
        if ((last == 0 || time.GetElapsedTime(last, now) >= TimeSpan.FromSeconds(10)) && Interlocked.CompareExchange(ref _lastWarning, now, last) == last)
        {
            LogRefusing(logger, detail, Refused);
        }
    }
}
