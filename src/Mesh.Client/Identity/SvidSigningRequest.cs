using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Identity;

/// <summary>
/// A new key pair for the workload (ECDSA P-256, made in the process and never sent) and the PKCS#10 certificate signing
/// request for it, to send to meshd; <see cref="Complete"/> joins the signed certificate with the key. The request names
/// the SPIFFE ID wanted, but meshd takes the identity from the credential the workload holds, not from the request.
/// </summary>
internal sealed class SvidSigningRequest : IDisposable
{
    private readonly ECDsa _key;

    private SvidSigningRequest(ECDsa key, string pem)
    {
        _key = key;
        Pem = pem;
    }

    /// <summary>Gets the certificate signing request as PEM (<c>CERTIFICATE REQUEST</c>).</summary>
    public string Pem { get; }

    /// <summary>Makes a key pair and a signing request for <paramref name="id"/>.</summary>
    public static SvidSigningRequest Create(SpiffeId id)
    {
        ArgumentNullException.ThrowIfNull(id);
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            var request = new CertificateRequest(new X500DistinguishedName(string.Empty), key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(SpiffeSan.Create(id, critical: true));
            return new SvidSigningRequest(key, request.CreateSigningRequestPem());
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>Joins the certificate chain meshd returned (leaf first, as PEM) with this request's key.</summary>
    /// <exception cref="InvalidDataException">The chain is malformed, or its leaf is not for this request's key or is no SVID.</exception>
    public WorkloadSvid Complete(string certificateChainPem) =>

        // Through PEM, so the certificate holds its own copy of the key and this request can be disposed.
        WorkloadSvid.FromPem(certificateChainPem, _key.ExportPkcs8PrivateKeyPem(), "the certificate issued for the signing request");

    public void Dispose() => _key.Dispose();
}
