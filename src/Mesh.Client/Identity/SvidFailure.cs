namespace Mesh.Identity;

/// <summary>Why a peer's certificate is not a valid X.509-SVID; each value has a message of its own in <see cref="SvidVerification.Problem"/>.</summary>
internal enum SvidFailure
{
    /// <summary>The certificate is a valid X.509-SVID.</summary>
    None,

    /// <summary>The peer presented no certificate.</summary>
    NoCertificate,

    /// <summary>The certificate has no URI subject alternative name.</summary>
    NoUriSan,

    /// <summary>The certificate has more than one URI subject alternative name (or more than one SAN extension).</summary>
    SeveralUriSans,

    /// <summary>The URI subject alternative name does not have the <c>spiffe</c> scheme.</summary>
    NotSpiffe,

    /// <summary>The URI subject alternative name has the <c>spiffe</c> scheme but breaks the rules of a SPIFFE ID.</summary>
    InvalidSpiffeId,

    /// <summary>The SPIFFE ID is that of a trust domain (no path), which only a signing certificate may have.</summary>
    RootPathOnly,

    /// <summary>The certificate is a CA certificate (basic constraints cA=true).</summary>
    CertificateAuthority,

    /// <summary>The key usage allows signing certificates (keyCertSign).</summary>
    KeyCertSign,

    /// <summary>The key usage allows signing revocation lists (cRLSign).</summary>
    CrlSign,

    /// <summary>The trust bundle has no root for the certificate's trust domain.</summary>
    NoRoots,

    /// <summary>The certificate is not valid yet.</summary>
    NotYetValid,

    /// <summary>The certificate has expired.</summary>
    Expired,

    /// <summary>The certificate does not chain to a root of its own trust domain.</summary>
    Untrusted,
}
