using Microsoft.Extensions.Logging;

namespace Mesh.Identity;

/// <summary>The log lines of <see cref="WorkloadCertificate"/>, with fixed event ids; certificates are named by SPIFFE ID, serial and fingerprint, never by key.</summary>
internal sealed partial class WorkloadCertificate
{
    [LoggerMessage(1, LogLevel.Information, "Workload certificate of {Id} installed: serial {Serial}, valid until {NotAfter:O}, SHA-256 {Fingerprint}.")]
    private static partial void LogUpdated(ILogger logger, string id, string serial, DateTimeOffset notAfter, string fingerprint);

    [LoggerMessage(2, LogLevel.Error, "Workload certificate of {Id} (serial {Serial}) expired at {NotAfter:O} with no new one; connections that need it fail closed until one arrives.")]
    private static partial void LogExpired(ILogger logger, string id, DateTimeOffset notAfter, string serial);
}
