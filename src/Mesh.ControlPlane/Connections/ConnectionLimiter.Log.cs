namespace Meshd.Connections;

/// <summary>The log lines of <see cref="ConnectionLimiter"/>, with fixed event ids.</summary>
internal sealed partial class ConnectionLimiter
{
    [LoggerMessage(1, LogLevel.Warning, "Refusing new connections: {Detail} {Refused} refused since start; open connections are still served.")]
    private static partial void LogRefusing(ILogger logger, string detail, long refused);
}
