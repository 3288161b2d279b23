using Microsoft.Extensions.Logging;

namespace Mesh.Discovery.Etcd;

internal sealed partial class EtcdEndpointSource
{
    [LoggerMessage(1, LogLevel.Information, "Discovery source {Source}: service {Service} has {Count} endpoints.")]
    private static partial void LogChanged(ILogger logger, string source, string service, int count);

    [LoggerMessage(2, LogLevel.Warning, "Discovery source {Source}: entry {Key} of service {Service} skipped: {Problem}.")]
    private static partial void LogBadEntry(ILogger logger, string source, string service, string key, string? problem);

    [LoggerMessage(3, LogLevel.Warning, "Discovery source {Source}: etcd {Address} unreachable ({Problem}), failure {Failures}; the last good {Count} endpoints stay in force.")]
    private static partial void LogUnreachable(ILogger logger, string source, Uri address, string problem, int failures, int count);

    [LoggerMessage(4, LogLevel.Debug, "Discovery source {Source}: etcd {Address} still unreachable ({Problem}), failure {Failures}.")]
    private static partial void LogStillUnreachable(ILogger logger, string source, Uri address, string problem, int failures);

    [LoggerMessage(5, LogLevel.Information, "Discovery source {Source}: etcd {Address} reached again after {Failures} failures; watching from revision {Revision}.")]
    private static partial void LogReconnected(ILogger logger, string source, Uri address, int failures, long revision);

    [LoggerMessage(6, LogLevel.Information, "Discovery source {Source}: revision {Revision} was compacted away; reading every entry again.")]
    private static partial void LogCompacted(ILogger logger, string source, long revision);
}
