using Microsoft.Extensions.Logging;

namespace Mesh.Discovery.Consul;

internal sealed partial class ConsulWatch
{
    [LoggerMessage(1, LogLevel.Information, "Discovery source {Source}: service {Service} (Consul service {Name}) has {Count} endpoints: {Endpoints}.")]
    private static partial void LogChanged(ILogger logger, string source, string service, string name, int count, string endpoints);

    [LoggerMessage(2, LogLevel.Warning, "Discovery source {Source}: service {Service}: Consul instance {Id} skipped: {Problem}.")]
    private static partial void LogBadEntry(ILogger logger, string source, string service, string id, string? problem);

    [LoggerMessage(3, LogLevel.Warning, "Discovery source {Source}: query of service {Service} (Consul service {Name}) at {Address} failed ({Problem}), failure {Failures}; its last good {Count} endpoints stay in force.")]
    private static partial void LogFailed(ILogger logger, string source, string service, string name, Uri address, string problem, int failures, int count);

    [LoggerMessage(4, LogLevel.Debug, "Discovery source {Source}: query of service {Service} (Consul service {Name}) failed again ({Problem}), failure {Failures}.")]
    private static partial void LogStillFailing(ILogger logger, string source, string service, string name, string problem, int failures);

    [LoggerMessage(5, LogLevel.Information, "Discovery source {Source}: query of service {Service} (Consul service {Name}) answered again after {Failures} failures.")]
    private static partial void LogRecovered(ILogger logger, string source, string service, string name, int failures);

    [LoggerMessage(6, LogLevel.Information, "Discovery source {Source}: service {Service}: Consul's index went from {Previous} to {Index}; querying again from 0.")]
    private static partial void LogIndexReset(ILogger logger, string source, string service, long previous, long index);
}
