using System.Security.Cryptography.X509Certificates;
using Mesh.Identity;

namespace Meshd.Identity;

/// <summary>An X.509-SVID the CA signed, as the API returns it.</summary>
/// <param name="Certificate">The certificate (no private key: that never left the workload).</param>
/// <param name="ChainPem">The certificate followed by the CA's intermediates, if any, up to but not including the root, as PEM.</param>
/// <param name="Id">The SPIFFE ID in the certificate.</param>
/// <param name="AuthorityId">The authority that signed it.</param>
internal sealed record IssuedSvid(X509Certificate2 Certificate, string ChainPem, SpiffeId Id, string AuthorityId)
{
    /// <summary>Gets the end of the certificate's validity.</summary>
    public DateTimeOffset NotAfter => new(Certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);

    /// <summary>Gets the serial number, as hexadecimal.</summary>
    public string SerialNumber => Certificate.SerialNumber;
}
