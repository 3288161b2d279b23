using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Identity;

/// <summary>Reads a certificate chain and the private key of its first certificate from PEM, as workloads and the CA both keep them.</summary>
internal static class PemCertificates
{
    /// <summary>
    /// Reads the certificates of <paramref name="certificatePem"/> (then those of <paramref name="morePem"/>, if any) and joins
    /// the first one with the key in <paramref name="keyPem"/> (PKCS#8, SEC1 or PKCS#1, unencrypted).
    /// </summary>
    /// <returns>The first certificate with its key, and the certificates after it in order.</returns>
    /// <exception cref="InvalidDataException">There is no certificate, one is malformed, or the key is malformed or does not match; the message names <paramref name="source"/>, never the key.</exception>
    public static (X509Certificate2 Certificate, List<X509Certificate2> Following) ReadWithKey(string certificatePem, string? morePem, string keyPem, string source)
    {
        ArgumentNullException.ThrowIfNull(certificatePem);
        ArgumentNullException.ThrowIfNull(keyPem);
        var certificates = TrustBundle.ReadPem(certificatePem, source);
        if (morePem is not null)
        {
            certificates.AddRange(TrustBundle.ReadPem(morePem, source));
        }

        if (certificates.Count == 0)
        {
            throw new InvalidDataException($"{source}: no PEM CERTIFICATE block.");
        }

        try
        {
            // One certificate at a time: CreateFromPem refuses text holding several.
            return (X509Certificate2.CreateFromPem(certificates[0].ExportCertificatePem(), keyPem), certificates.GetRange(1, certificates.Count - 1));
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            // The runtime's message says what is wrong without repeating the key.
            throw new InvalidDataException($"{source}: the private key is unreadable or does not match the certificate ({ex.Message})", ex);
        }
    }
}
