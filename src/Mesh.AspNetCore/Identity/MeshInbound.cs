using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Mesh.AspNetCore.Registration;
using Mesh.Identity;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Identity;

/// <summary>
/// The connection middleware the mesh puts first on every plaintext Kestrel endpoint when the workload has an identity.
/// Per connection it reads the mode; off serves plaintext at once; otherwise it peeks at the first byte without consuming
/// it, for at most the detection timeout: a TLS record (0x16, a ClientHello) goes to Kestrel's TLS with the workload's
/// current certificate and the caller's certificate checked against the bundle, anything else is served as plaintext in
/// permissive mode and closed in strict mode. Endpoints the application gave TLS of its own are left alone.
/// </summary>
internal sealed partial class MeshInbound
{
    public const string LogCategory = "Mesh.Server.Tls";

    // The first byte of a TLS record carrying a handshake message; no HTTP/1.x request or HTTP/2 preface starts with it.
    private const byte TlsHandshakeRecord = 0x16;

    private const int Silent = -1;
    private const int Closed = -2;

    private readonly MtlsModes _modes;
    private readonly WorkloadCertificate _certificate;
    private readonly X509SvidValidator _validator;
    private readonly InboundTlsMetrics _metrics;
    private readonly MeshTlsEndpoints _endpoints;
    private readonly RefusalLog _refusals;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _detectionTimeout;
    private readonly TimeSpan _handshakeTimeout;

    public MeshInbound(
        MtlsModes modes,
        WorkloadCertificate certificate,
        X509SvidValidator validator,
        InboundTlsMetrics metrics,
        MeshTlsEndpoints endpoints,
        IOptions<MeshServerOptions> options,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        _modes = modes;
        _certificate = certificate;
        _validator = validator;
        _metrics = metrics;
        _endpoints = endpoints;
        _time = time;
        _logger = loggers.CreateLogger(LogCategory);
        _refusals = new RefusalLog(time, RefusalLog.DefaultInterval);
        _detectionTimeout = options.Value.ProtocolDetectionTimeout;
        _handshakeTimeout = options.Value.TlsHandshakeTimeout;
    }

    /// <summary>
    /// Builds the endpoint's pipeline once Kestrel has its whole configuration: an endpoint already given TLS by the
    /// application passes through; any other gets the mesh's detection and TLS in front of <paramref name="next"/>.
    /// </summary>
    public ConnectionDelegate Wrap(ListenOptions listen, ConnectionDelegate next)
    {
        // Kestrel names an endpoint by its scheme, https once UseHttps was called on it: the one public sign of TLS.
        if (listen.ToString()?.StartsWith("https:", StringComparison.OrdinalIgnoreCase) == true)
        {
            _endpoints.Add(listen, meshed: false);
            return next;
        }

        var tls = BuildTls(listen, next);
        _endpoints.Add(listen, meshed: true);
        return context => OnConnectionAsync(context, tls, next);
    }

    private ConnectionDelegate BuildTls(ListenOptions listen, ConnectionDelegate plaintext)
    {
        // Kestrel's own TLS (handshake timeout, ALPN from the endpoint's protocols, the TLS features HTTP reads), built in
        // an endpoint of its own that is never bound, so the plaintext pipeline stays reachable on the same port.
        ConnectionDelegate? built = null;
        var detached = new KestrelServerOptions { ApplicationServices = listen.ApplicationServices };
        detached.Listen(new IPEndPoint(IPAddress.Loopback, 0), branch =>
        {
            branch.Protocols = listen.Protocols & ~HttpProtocols.Http3;
            branch.UseHttps(new TlsHandshakeCallbackOptions
            {
                OnConnection = static context => ((MeshInbound)context.State!).SelectOptions(context),
                OnConnectionState = this,
                HandshakeTimeout = _handshakeTimeout,
            });
            branch.Use(_ => context => Established(context, plaintext));
            built = branch.Build();
        });
        return built!;
    }

    private async Task OnConnectionAsync(ConnectionContext context, ConnectionDelegate tls, ConnectionDelegate plaintext)
    {
        var mode = _modes.Current;
        if (mode == MtlsMode.Off)
        {
            _metrics.Connection(ConnectionOutcome.Plaintext, mode);
            await plaintext(context).ConfigureAwait(false);
            return;
        }

        var first = await PeekAsync(context).ConfigureAwait(false);
        if (first == TlsHandshakeRecord)
        {
            _metrics.Connection(ConnectionOutcome.Tls, mode);
            var connection = new MeshConnection(mode, _validator, _certificate);
            context.Features.Set(connection);
            await tls(context).ConfigureAwait(false);
            if (!connection.Established)
            {
                var reason = connection.Refusal ?? TlsRefusal.HandshakeFailed;
                _metrics.Refused(reason, mode);
                if (_refusals.ShouldLog(InboundTlsMetrics.Name(reason)))
                {
                    LogHandshakeRefused(_logger, context.RemoteEndPoint?.ToString() ?? "unknown", MtlsModes.Name(mode), InboundTlsMetrics.Name(reason),
                        Printable(connection.Problem) ?? "the handshake did not complete (a protocol error, the handshake timeout, or the caller refused this server's certificate)", _refusals.Interval.TotalSeconds);
                }
            }

            return;
        }

        switch (first)
        {
            case Silent:
                _metrics.Connection(ConnectionOutcome.Silent, mode);
                if (_refusals.ShouldLog("silent"))
                {
                    LogSilent(_logger, context.RemoteEndPoint?.ToString() ?? "unknown", _detectionTimeout.TotalSeconds, _refusals.Interval.TotalSeconds);
                }

                return;
            case Closed:
                _metrics.Connection(ConnectionOutcome.Closed, mode);
                return;
        }

        if (mode == MtlsMode.Strict)
        {
            _metrics.Connection(ConnectionOutcome.PlaintextRefused, mode);
            if (_refusals.ShouldLog("plaintext_refused"))
            {
                LogPlaintextRefused(_logger, context.RemoteEndPoint?.ToString() ?? "unknown", _refusals.Interval.TotalSeconds);
            }

            return;
        }

        _metrics.Connection(ConnectionOutcome.Plaintext, mode);
        await plaintext(context).ConfigureAwait(false);
    }

    /// <summary>A refusal's message for the log: it quotes what the caller's certificate claims, so it is cut and kept to one line.</summary>
    internal static string? Printable(string? problem)
    {
        if (problem is null)
        {
            return null;
        }

        var text = problem.Length <= 600 ? problem : string.Concat(problem.AsSpan(0, 600), "…");
        return string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? ' ' : source[i];
            }
        });
    }

    /// <summary>Returns the connection's first byte, left unread for what follows; <see cref="Silent"/> or <see cref="Closed"/> when there is none.</summary>
    private async ValueTask<int> PeekAsync(ConnectionContext context)
    {
        var input = context.Transport.Input;
        using var timeout = new CancellationTokenSource(_detectionTimeout, _time);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    var first = new SequenceReader<byte>(buffer).TryPeek(out var value) ? value : 0;

                    // Nothing consumed and nothing examined: the next reader gets the same bytes at once.
                    input.AdvanceTo(buffer.Start);
                    return first;
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return Closed;
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return Silent;
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException)
        {
            return Closed;
        }
    }

    private ValueTask<SslServerAuthenticationOptions> SelectOptions(TlsHandshakeCallbackContext context)
    {
        var connection = context.Connection.Features.Get<MeshConnection>()
            ?? throw new InvalidOperationException("A mesh TLS handshake began on a connection the mesh did not accept.");
        WorkloadSvid svid;
        try
        {
            // Per handshake: a renewed certificate is presented on the next connection, and none past its expiry.
            svid = _certificate.GetCurrent();
        }
        catch (WorkloadCertificateUnavailableException ex)
        {
            connection.Refuse(TlsRefusal.NoServerCertificate, ex.Message);
            throw new AuthenticationException(ex.Message, ex);
        }

        return ValueTask.FromResult(new SslServerAuthenticationOptions
        {
            ServerCertificateContext = svid.Context,

            // Asked of every caller; whether one may go without is the mode's to say, in the validation callback.
            ClientCertificateRequired = true,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = connection.Validate,
        });
    }

    private Task Established(ConnectionContext context, ConnectionDelegate next)
    {
        if (context.Features.Get<MeshConnection>() is { } connection)
        {
            connection.Established = true;
            _metrics.Accepted(connection.Caller is not null, connection.Mode);
        }

        return next(context);
    }
}
