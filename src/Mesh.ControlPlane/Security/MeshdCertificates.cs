using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Meshd.Security;

/// <summary>Loads a certificate and its private key from PEM files, or says which setting points at what is wrong.</summary>
internal static class MeshdCertificates
{
    public static X509Certificate2 Load(string certificateFile, string keyFile, string key)
    {
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);

            // Through PKCS#12 so the TLS stack can use the private key on every platform.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or ArgumentException)
        {
            throw new MeshdStartupException($"{key}: '{Path.GetFullPath(certificateFile)}' with key '{Path.GetFullPath(keyFile)}' is not a usable PEM certificate and private key: {ex.Message}", ex);
        }
    }
}
