using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane;

internal sealed partial class ControlPlaneWatcher
{
    [LoggerMessage(1, LogLevel.Information, "Control-plane snapshot {Version} applied from {Origin}: {ServiceCount} services (was {PreviousVersion}).")]
    private static partial void LogApplied(ILogger logger, long version, string origin, int serviceCount, long previousVersion);

    [LoggerMessage(2, LogLevel.Warning, "Control-plane snapshot from {Origin} refused whole; snapshot {Version} stays in force. {Failures}")]
    private static partial void LogRejected(ILogger logger, string origin, long version, string failures);

    [LoggerMessage(3, LogLevel.Warning, "Control plane {Address} unreachable ({Problem}); routing goes on with snapshot {Version}.")]
    private static partial void LogUnreachable(ILogger logger, Uri address, string? problem, long version);

    [LoggerMessage(4, LogLevel.Debug, "Control plane {Address} still unreachable ({Problem}); failure {Failures}, next try in {DelayMs:0} ms.")]
    private static partial void LogStillUnreachable(ILogger logger, Uri address, string? problem, int failures, double delayMs);

    [LoggerMessage(5, LogLevel.Information, "Control plane {Address} reached again; watching from snapshot {Version}.")]
    private static partial void LogReconnected(ILogger logger, Uri address, long version);

    [LoggerMessage(6, LogLevel.Error, "Control plane {Address} refused the workload token with status {Status}.")]
    private static partial void LogTokenRefused(ILogger logger, Uri address, int status);

    [LoggerMessage(7, LogLevel.Information, "Control-plane snapshot {Version} loaded from the cache {Path}.")]
    private static partial void LogCacheLoaded(ILogger logger, long version, string path);

    [LoggerMessage(8, LogLevel.Information, "No cached control-plane snapshot at {Path}.")]
    private static partial void LogNoCache(ILogger logger, string path);

    [LoggerMessage(9, LogLevel.Warning, "The cached control-plane snapshot {Path} could not be read: {Problem}")]
    private static partial void LogCacheUnreadable(ILogger logger, string path, string problem);

    [LoggerMessage(10, LogLevel.Warning, "The control-plane snapshot could not be cached at {Path}: {Problem}")]
    private static partial void LogCacheUnwritable(ILogger logger, string path, string problem);

    [LoggerMessage(11, LogLevel.Warning, "No control-plane snapshot after waiting {Seconds} s at start-up and none cached; services known only to the control plane are not routable until one arrives.")]
    private static partial void LogStartedWithoutSnapshot(ILogger logger, double seconds);
}
