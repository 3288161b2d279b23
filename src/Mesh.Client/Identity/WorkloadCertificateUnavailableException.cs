namespace Mesh.Identity;

/// <summary>Thrown when a connection needs the workload's certificate and there is none that is still valid: the mesh fails closed.</summary>
internal sealed class WorkloadCertificateUnavailableException : InvalidOperationException
{
    public WorkloadCertificateUnavailableException()
    {
    }

    public WorkloadCertificateUnavailableException(string message)
        : base(message)
    {
    }

    public WorkloadCertificateUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
