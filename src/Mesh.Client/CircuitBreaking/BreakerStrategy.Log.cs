using Microsoft.Extensions.Logging;

namespace Mesh.CircuitBreaking;

internal sealed partial class BreakerStrategy
{
    [LoggerMessage(24, LogLevel.Warning, "Circuit breaker of service '{Service}' opened for {Seconds:0.#} s: calls fail fast.")]
    private static partial void LogOpened(ILogger logger, string service, double seconds);

    [LoggerMessage(25, LogLevel.Information, "Circuit breaker of service '{Service}' half-open: one probe goes through.")]
    private static partial void LogHalfOpen(ILogger logger, string service);

    [LoggerMessage(26, LogLevel.Information, "Circuit breaker of service '{Service}' closed.")]
    private static partial void LogClosed(ILogger logger, string service);
}
