using System.Security.Cryptography.X509Certificates;

namespace Mesh.Discovery.Etcd;

/// <summary>The PEM files of <see cref="EtcdDiscoveryOptions"/>, read when the source starts (the validator has read them once at start).</summary>
internal static class EtcdCertificates
{
    /// <summary>The certificate authorities of a PEM file; an <see cref="InvalidDataException"/> when it holds none.</summary>
    public static X509Certificate2Collection LoadRoots(string file)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(file);
        return roots.Count > 0 ? roots : throw new InvalidDataException($"'{file}' holds no PEM certificate.");
    }

    /// <summary>A client certificate with its private key, from PEM files.</summary>
    public static X509Certificate2 LoadClientCertificate(string certificateFile, string keyFile)
    {
        using var ephemeral = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);

        // Exported and loaded again, so TLS can use the key wherever the platform needs it in a store.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
    }
}
