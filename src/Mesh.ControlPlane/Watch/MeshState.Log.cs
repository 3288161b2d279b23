namespace Meshd.Watch;

/// <summary>The log lines of <see cref="MeshState"/>, with fixed event ids.</summary>
internal sealed partial class MeshState
{
    [LoggerMessage(1, LogLevel.Warning, "The store's watch broke; resuming from revision {Revision}.")]
    private static partial void LogWatchBroken(ILogger logger, long revision, Exception exception);

    [LoggerMessage(2, LogLevel.Warning, "The store compacted the revisions being watched ({Reason}); listing everything again.")]
    private static partial void LogCompacted(ILogger logger, string reason);

    [LoggerMessage(3, LogLevel.Warning, "The store's key '{Key}' at revision {Revision} cannot be read ({Problem}); it is left out of the snapshot. Write it again through meshd's API or delete it.")]
    private static partial void LogUndecodable(ILogger logger, string key, long revision, string problem);
}
