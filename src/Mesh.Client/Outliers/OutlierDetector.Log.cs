using Microsoft.Extensions.Logging;

namespace Mesh.Outliers;

internal sealed partial class OutlierDetector
{
    [LoggerMessage(30, LogLevel.Warning, "Endpoint {Endpoint} of service '{Service}' ejected after {Failures} consecutive failures for {Seconds:0.#} s (ejection {Ordinal}).")]
    private static partial void LogEjected(ILogger logger, string service, string endpoint, int failures, double seconds, int ordinal);

    [LoggerMessage(31, LogLevel.Information, "Endpoint {Endpoint} of service '{Service}' returns to balancing after its ejection.")]
    private static partial void LogReturned(ILogger logger, string service, string endpoint);

    [LoggerMessage(32, LogLevel.Debug, "Endpoint {Endpoint} of service '{Service}' keeps failing but is not ejected: {Ejected} endpoints already are (MaxEjectionPercent {Percent}).")]
    private static partial void LogEjectionCapped(ILogger logger, string service, string endpoint, int ejected, int percent);
}
