using Microsoft.Extensions.Logging;

namespace Mesh.Discovery.Dns;

internal sealed partial class DnsWatch
{
    [LoggerMessage(1, LogLevel.Information, "Discovery source {Source}: service {Service} ({Query}) has {Count} endpoints: {Endpoints}.")]
    private static partial void LogChanged(ILogger logger, string source, string service, string query, int count, string endpoints);

    [LoggerMessage(2, LogLevel.Warning, "Discovery source {Source}: service {Service} ({Query}) has no endpoints any more ({Why}); it had {Previous}.")]
    private static partial void LogEmptied(ILogger logger, string source, string service, string query, string? why, int previous);

    [LoggerMessage(3, LogLevel.Warning, "Discovery source {Source}: lookup for service {Service} ({Query}) failed ({Problem}), failure {Failures}; its last good {Count} endpoints stay in force.")]
    private static partial void LogFailed(ILogger logger, string source, string service, string query, string? problem, int failures, int count);

    [LoggerMessage(4, LogLevel.Debug, "Discovery source {Source}: lookup for service {Service} ({Query}) failed again ({Problem}), failure {Failures}.")]
    private static partial void LogStillFailing(ILogger logger, string source, string service, string query, string? problem, int failures);

    [LoggerMessage(5, LogLevel.Information, "Discovery source {Source}: lookup for service {Service} ({Query}) answered again after {Failures} failures.")]
    private static partial void LogRecovered(ILogger logger, string source, string service, string query, int failures);
}
