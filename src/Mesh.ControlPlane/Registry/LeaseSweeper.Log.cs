namespace Meshd.Registry;

/// <summary>The log lines of <see cref="LeaseSweeper"/>, with fixed event ids.</summary>
internal sealed partial class LeaseSweeper
{
    [LoggerMessage(1, LogLevel.Information, "Removed {Count} instances whose lease lapsed.")]
    private static partial void LogSwept(ILogger logger, int count);

    [LoggerMessage(2, LogLevel.Warning, "The lease sweep failed; it runs again at each interval and says so when it succeeds.")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(3, LogLevel.Warning, "The lease sweep cannot remove lapsed instances: {Problem} It runs again at each interval.")]
    private static partial void LogSweepFailing(ILogger logger, string problem);

    [LoggerMessage(4, LogLevel.Information, "The lease sweep works again.")]
    private static partial void LogSweepRecovered(ILogger logger);
}
