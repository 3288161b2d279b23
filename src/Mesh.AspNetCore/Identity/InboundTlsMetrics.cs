using System.Diagnostics.Metrics;
using Mesh.Telemetry;

namespace Mesh.AspNetCore.Identity;

/// <summary>
/// The inbound side's connection and handshake instruments on the <c>Mesh</c> meter: how each connection was taken
/// (<c>mesh.server.connections</c>) and each TLS handshake's result and reason (<c>mesh.server.tls.handshakes</c>). They
/// carry modes and reasons only: never an identity a caller merely claims, never key material.
/// </summary>
internal sealed class InboundTlsMetrics
{
    internal const string ModeTag = "mesh.mtls.mode";
    internal const string OutcomeTag = "mesh.connection.outcome";
    internal const string ResultTag = "mesh.tls.result";
    internal const string ReasonTag = "mesh.tls.reason";

    private readonly Counter<long> _connections;
    private readonly Counter<long> _handshakes;

    public InboundTlsMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeshTelemetry.Name);
        _connections = meter.CreateCounter<long>(
            "mesh.server.connections", "{connection}", "Inbound connections by how the mesh took them: tls, plaintext, plaintext_refused (strict), silent (no byte within the detection timeout) or closed (before its first byte).");
        _handshakes = meter.CreateCounter<long>(
            "mesh.server.tls.handshakes", "{handshake}", "Inbound TLS handshakes, accepted (with or without a client certificate) or refused, by reason.");
    }

    public void Connection(ConnectionOutcome outcome, MtlsMode mode) =>
        _connections.Add(1, new KeyValuePair<string, object?>(OutcomeTag, Name(outcome)), new KeyValuePair<string, object?>(ModeTag, MtlsModes.Name(mode)));

    public void Accepted(bool clientCertificate, MtlsMode mode) =>
        _handshakes.Add(
            1,
            new KeyValuePair<string, object?>(ResultTag, "accepted"),
            new KeyValuePair<string, object?>(ReasonTag, clientCertificate ? "client_certificate" : "no_client_certificate"),
            new KeyValuePair<string, object?>(ModeTag, MtlsModes.Name(mode)));

    public void Refused(TlsRefusal reason, MtlsMode mode) =>
        _handshakes.Add(
            1,
            new KeyValuePair<string, object?>(ResultTag, "refused"),
            new KeyValuePair<string, object?>(ReasonTag, Name(reason)),
            new KeyValuePair<string, object?>(ModeTag, MtlsModes.Name(mode)));

    internal static string Name(ConnectionOutcome outcome) => outcome switch
    {
        ConnectionOutcome.Tls => "tls",
        ConnectionOutcome.Plaintext => "plaintext",
        ConnectionOutcome.PlaintextRefused => "plaintext_refused",
        ConnectionOutcome.Silent => "silent",
        _ => "closed",
    };

    internal static string Name(TlsRefusal reason) => reason switch
    {
        TlsRefusal.NoClientCertificate => "no_client_certificate",
        TlsRefusal.Untrusted => "untrusted",
        TlsRefusal.Expired => "expired",
        TlsRefusal.NotYetValid => "not_yet_valid",
        TlsRefusal.NotAnSvid => "not_an_svid",
        TlsRefusal.NoServerCertificate => "no_server_certificate",
        _ => "handshake_failed",
    };
}

/// <summary>How the mesh took an inbound connection.</summary>
internal enum ConnectionOutcome
{
    /// <summary>It began with a TLS ClientHello and went to the mesh's TLS.</summary>
    Tls,

    /// <summary>It was served as plaintext HTTP.</summary>
    Plaintext,

    /// <summary>It was plaintext and the mode is strict: closed.</summary>
    PlaintextRefused,

    /// <summary>It sent nothing within the detection timeout: closed.</summary>
    Silent,

    /// <summary>The caller closed it before sending anything.</summary>
    Closed,
}

/// <summary>Why an inbound TLS handshake was refused.</summary>
internal enum TlsRefusal
{
    /// <summary>The mode is strict and the caller presented no certificate.</summary>
    NoClientCertificate,

    /// <summary>The caller's certificate does not chain to a root of the bundle for its trust domain (or the bundle has none).</summary>
    Untrusted,

    /// <summary>The caller's certificate has expired.</summary>
    Expired,

    /// <summary>The caller's certificate is not valid yet.</summary>
    NotYetValid,

    /// <summary>The caller's certificate is no X.509-SVID: no single SPIFFE ID, or a CA's.</summary>
    NotAnSvid,

    /// <summary>This server has no valid certificate to present: it fails closed.</summary>
    NoServerCertificate,

    /// <summary>Anything else: a protocol error, the handshake timeout, the caller giving up or refusing this server's certificate.</summary>
    HandshakeFailed,
}
