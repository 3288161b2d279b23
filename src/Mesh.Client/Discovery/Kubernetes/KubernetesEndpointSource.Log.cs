using Microsoft.Extensions.Logging;

namespace Mesh.Discovery.Kubernetes;

internal sealed partial class KubernetesEndpointSource
{
    [LoggerMessage(1, LogLevel.Information, "Discovery source {Source}: service {Service} has {Count} endpoints.")]
    private static partial void LogChanged(ILogger logger, string source, string service, int count);

    [LoggerMessage(2, LogLevel.Warning, "Discovery source {Source}: the API server is unreachable for service {Service} ({Problem}), failure {Failures}; the last good {Count} endpoints stay in force.")]
    private static partial void LogUnreachable(ILogger logger, string source, string service, string problem, int failures, int count);

    [LoggerMessage(3, LogLevel.Debug, "Discovery source {Source}: the API server is still unreachable for service {Service} ({Problem}), failure {Failures}.")]
    private static partial void LogStillUnreachable(ILogger logger, string source, string service, string problem, int failures);

    [LoggerMessage(4, LogLevel.Information, "Discovery source {Source}: the API server answers again for service {Service} after {Failures} failures.")]
    private static partial void LogReconnected(ILogger logger, string source, string service, int failures);

    [LoggerMessage(5, LogLevel.Information, "Discovery source {Source}: resource version {ResourceVersion} of service {Service} is gone (410); listing its slices again.")]
    private static partial void LogGone(ILogger logger, string source, string service, string resourceVersion);

    [LoggerMessage(6, LogLevel.Warning, "Discovery source {Source}: service {Service} has more than {Max} {What}; the rest are left out.")]
    private static partial void LogTooMany(ILogger logger, string source, string service, int max, string what);

    [LoggerMessage(7, LogLevel.Error, "Discovery source {Source}: the Kubernetes client configuration cannot be read ({Problem}); no service of this source has endpoints.")]
    private static partial void LogBadConfiguration(ILogger logger, string source, string problem);
}
