using Microsoft.Extensions.Logging;

namespace Mesh.RateLimiting;

internal sealed partial class RateLimitStrategy
{
    [LoggerMessage(28, LogLevel.Debug, "A call to service '{Service}' was not sent: its rate limit of {PermitsPerSecond} requests per second was reached.")]
    private static partial void LogRateLimited(ILogger logger, string service, int permitsPerSecond);
}
