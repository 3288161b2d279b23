using Mesh.Identity;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane;

internal sealed partial class MeshdIdentitySource
{
    [LoggerMessage(20, LogLevel.Information, "Workload certificate for {Id} loaded from the cache; valid until {NotAfter:u}.")]
    private static partial void LogCacheLoaded(ILogger logger, SpiffeId id, DateTimeOffset notAfter);

    [LoggerMessage(21, LogLevel.Warning, "The cached workload certificate {Path} could not be read: {Problem}")]
    private static partial void LogCacheUnreadable(ILogger logger, string path, string problem);

    [LoggerMessage(22, LogLevel.Warning, "The workload certificate could not be cached at {Path}: {Problem}")]
    private static partial void LogCacheUnwritable(ILogger logger, string path, string problem);

    [LoggerMessage(23, LogLevel.Warning, "No workload certificate for {Id} after waiting {Seconds} s at start-up and none cached: mutual TLS fails until meshd signs one.")]
    private static partial void LogStartedWithoutCertificate(ILogger logger, SpiffeId? id, double seconds);
}
