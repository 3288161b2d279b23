namespace Meshd.Identity;

/// <summary>The log lines of <see cref="CertificateAuthority"/>, with fixed event ids; they name authorities by fingerprint and certificates by serial, never keys.</summary>
internal sealed partial class CertificateAuthority
{
    [LoggerMessage(1, LogLevel.Information, "Certificate authority created with a {Origin} root {AuthorityId} ('{Subject}', valid until {NotAfter:O}) in {Directory}.")]
    private static partial void LogCreated(ILogger logger, string origin, string authorityId, string subject, DateTimeOffset notAfter, string directory);

    [LoggerMessage(2, LogLevel.Information, "Certificate authority opened from {Directory}: authority {AuthorityId} signs (valid until {NotAfter:O}); {Count} authorities in the trust bundle.")]
    private static partial void LogOpened(ILogger logger, string authorityId, DateTimeOffset notAfter, int count, string directory);

    [LoggerMessage(3, LogLevel.Warning, "Meshd:Identity:CertificatePath {Path} is not among the authorities of the CA in {Directory} and is ignored: supplied files are read at the first start only; add it with the rotation operations.")]
    private static partial void LogSuppliedIgnored(ILogger logger, string path, string directory);

    [LoggerMessage(4, LogLevel.Information, "Issued {Id}: serial {Serial}, valid until {NotAfter:O}, signed by {AuthorityId}.")]
    private static partial void LogIssued(ILogger logger, string id, string serial, DateTimeOffset notAfter, string authorityId);

    [LoggerMessage(5, LogLevel.Information, "Authority {AuthorityId} ({Origin}, '{Subject}', valid until {NotAfter:O}) added; its root is in the trust bundle, the active authority keeps signing.")]
    private static partial void LogAdded(ILogger logger, string origin, string authorityId, string subject, DateTimeOffset notAfter);

    [LoggerMessage(6, LogLevel.Information, "Authority {AuthorityId} now signs, instead of {PreviousId}, which stays in the trust bundle.")]
    private static partial void LogActivated(ILogger logger, string authorityId, string previousId);

    [LoggerMessage(7, LogLevel.Warning, "Authority {AuthorityId} removed from the trust bundle and its key destroyed (forced: {Forced}).")]
    private static partial void LogRemoved(ILogger logger, string authorityId, bool forced);
}
