namespace Meshd.Storage;

/// <summary>The log lines of <see cref="FileKeyValueStore"/>, with fixed event ids.</summary>
internal sealed partial class FileKeyValueStore
{
    [LoggerMessage(1, LogLevel.Information, "Loaded {Count} keys at revision {Revision} from {Path}.")]
    private static partial void LogLoaded(ILogger logger, int count, long revision, string path);

    [LoggerMessage(2, LogLevel.Information, "{Path} has no checksum (written by an older meshd); the next write adds one.")]
    private static partial void LogNoChecksum(ILogger logger, string path);
}
