using Microsoft.Extensions.Logging;

namespace Mesh.Identity;

/// <summary>The log lines of <see cref="CertificateRenewer"/>, with fixed event ids; no key material.</summary>
internal sealed partial class CertificateRenewer
{
    [LoggerMessage(1, LogLevel.Information, "Workload certificate of {Id} renewed: serial {Serial}, valid until {NotAfter:O}; next renewal at {RenewAt:O}.")]
    private static partial void LogRenewed(ILogger logger, string id, string serial, DateTimeOffset notAfter, DateTimeOffset renewAt);

    [LoggerMessage(2, LogLevel.Warning, "Renewing the workload certificate failed ({Problem}); next try at {RetryAt:O}; {State}.")]
    private static partial void LogFailed(ILogger logger, string problem, DateTimeOffset retryAt, string state);

    [LoggerMessage(3, LogLevel.Debug, "Renewing the workload certificate failed again, {Failures} times in a row ({Problem}); next try at {RetryAt:O}; {State}.")]
    private static partial void LogStillFailing(ILogger logger, int failures, string problem, DateTimeOffset retryAt, string state);
}
