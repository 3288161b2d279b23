namespace Meshd.Identity;

/// <summary>Thrown when the CA refuses a certificate signing request: malformed, a signature that does not verify, a key it does not accept, or an invalid service name. The message says which, and is safe to return to the caller.</summary>
internal sealed class CertificateRequestRefusedException : Exception
{
    public CertificateRequestRefusedException()
    {
    }

    public CertificateRequestRefusedException(string message)
        : base(message)
    {
    }

    public CertificateRequestRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
