namespace Meshd.Registry;

/// <summary>The log lines of <see cref="LeaseSweeper"/>, with fixed event ids.</summary>
internal sealed partial class LeaseSweeper
{
    [LoggerMessage(1, LogLevel.Information, "Removed {Count} instances whose lease lapsed.")]
    private static partial void LogSwept(ILogger logger, int count);

    [LoggerMessage(2, LogLevel.Warning, "The lease sweep failed; it runs again at the next interval.")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
