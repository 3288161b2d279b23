namespace Mesh.ControlPlane.Contract;

/// <summary>meshd's answer to an <see cref="SvidRequest"/>: the signed certificate and what it says.</summary>
/// <param name="SpiffeId">The SPIFFE ID in the certificate's one URI SAN.</param>
/// <param name="CertificateChainPem">The leaf first, then any intermediate up to (not including) a root of the bundle, PEM.</param>
/// <param name="NotBefore">When the certificate becomes valid (a little before it was signed, for clock skew).</param>
/// <param name="NotAfter">When the certificate expires.</param>
internal sealed record SvidDocument(string SpiffeId, string CertificateChainPem, DateTimeOffset NotBefore, DateTimeOffset NotAfter);
