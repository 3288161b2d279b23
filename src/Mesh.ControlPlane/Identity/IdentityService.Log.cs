namespace Meshd.Identity;

/// <summary>The log lines of <see cref="IdentityService"/>, with fixed event ids; no key, CSR or token is ever in them.</summary>
internal sealed partial class IdentityService
{
    [LoggerMessage(1, LogLevel.Information, "Trust bundle with {Roots} root(s) written to the store at revision {Revision}; snapshots carry it from that version on.")]
    private static partial void LogBundlePublished(ILogger logger, int roots, long revision);

    [LoggerMessage(2, LogLevel.Warning, "The trust bundle could not be written to the store ({Reason}); meshd tries again every 5 s, and snapshots carry the previous bundle until then.")]
    private static partial void LogPublishFailed(ILogger logger, string reason);

    [LoggerMessage(3, LogLevel.Warning, "Meshd:Identity runs with the etcd store and a CA generated in this replica's data directory: every replica must sign with the same CA. Give each the same files (Meshd:Identity:CertificatePath, KeyPath, ChainPath) or a copy of one replica's ca directory in each data directory; rotate roots on one replica, then copy its ca directory to the others.")]
    private static partial void LogGeneratedRootOnReplicas(ILogger logger);
}
