using Microsoft.Extensions.Logging;

namespace Mesh.Identity;

/// <summary>The log lines of <see cref="FileIdentitySource"/>, with fixed event ids; they name files, identities and serials, never key material.</summary>
internal sealed partial class FileIdentitySource
{
    [LoggerMessage(1, LogLevel.Information, "Workload certificate of {Id} read from {Path}: serial {Serial}, valid until {NotAfter:O}; the trust bundle holds {RootCount} roots.")]
    private static partial void LogLoaded(ILogger logger, string id, string path, string serial, DateTimeOffset notAfter, int rootCount);

    [LoggerMessage(2, LogLevel.Warning, "The identity files were refused: {Problem}; {State}. They are read again when they change.")]
    private static partial void LogRefused(ILogger logger, string problem, string state);

    [LoggerMessage(3, LogLevel.Warning, "The directory {Directory} cannot be watched for changes ({Problem}); the identity files in it are read again every {Seconds} s instead.")]
    private static partial void LogNotWatched(ILogger logger, string directory, string problem, double seconds);
}
