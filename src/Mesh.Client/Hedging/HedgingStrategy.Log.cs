using Microsoft.Extensions.Logging;

namespace Mesh.Hedging;

internal sealed partial class HedgingStrategy
{
    [LoggerMessage(23, LogLevel.Debug, "Hedging a call to service '{Service}' (attempt {Attempt}).")]
    private static partial void LogHedge(ILogger logger, string service, int attempt);
}
