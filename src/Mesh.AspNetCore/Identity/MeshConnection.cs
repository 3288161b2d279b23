using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;

namespace Mesh.AspNetCore.Identity;

/// <summary>
/// What the mesh knows of one inbound TLS connection, kept in its features: the mode it was accepted under, the caller
/// its certificate proved, or why its handshake was refused.
/// </summary>
internal sealed class MeshConnection(MtlsMode mode, X509SvidValidator validator, WorkloadCertificate certificate)
{
    /// <summary>Gets the mode read when the connection was accepted; it holds for the connection's whole life.</summary>
    public MtlsMode Mode { get; } = mode;

    /// <summary>Gets the caller the client certificate proved; <see langword="null"/> when it presented none.</summary>
    public MeshCaller? Caller { get; private set; }

    /// <summary>Gets why the handshake was refused, when the mesh refused it.</summary>
    public TlsRefusal? Refusal { get; private set; }

    /// <summary>Gets the refusal's message: the identity and issuer a certificate claims, never key material.</summary>
    public string? Problem { get; private set; }

    /// <summary>Gets whether the handshake completed.</summary>
    public bool Established { get; set; }

    /// <summary>Refuses the handshake for <paramref name="reason"/>.</summary>
    public void Refuse(TlsRefusal reason, string problem)
    {
        Refusal = reason;
        Problem = problem;
    }

    /// <summary>
    /// Checks the client's certificate, as TLS asks during the handshake: an X.509-SVID chained to the current bundle, or in
    /// permissive mode no certificate at all. The system store's verdict is ignored.
    /// </summary>
    public bool Validate(object sender, X509Certificate? presented, X509Chain? chain, SslPolicyErrors errors)
    {
        var verification = validator.Validate(presented, chain, certificate.Bundle);
        if (verification.IsValid)
        {
            Caller = new MeshCaller(verification.Id);
            return true;
        }

        if (verification.Failure == SvidFailure.NoCertificate)
        {
            if (Mode == MtlsMode.Permissive)
            {
                return true;
            }

            Refuse(TlsRefusal.NoClientCertificate, "the caller presented no client certificate and the mode is strict");
            return false;
        }

        Refuse(Reason(verification.Failure), verification.Problem);
        return false;
    }

    private static TlsRefusal Reason(SvidFailure failure) => failure switch
    {
        SvidFailure.Untrusted or SvidFailure.NoRoots => TlsRefusal.Untrusted,
        SvidFailure.Expired => TlsRefusal.Expired,
        SvidFailure.NotYetValid => TlsRefusal.NotYetValid,
        _ => TlsRefusal.NotAnSvid,
    };
}
