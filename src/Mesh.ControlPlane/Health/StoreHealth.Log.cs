namespace Meshd.Health;

/// <summary>The log lines of <see cref="StoreHealth"/>, with fixed event ids.</summary>
internal sealed partial class StoreHealth
{
    [LoggerMessage(1, LogLevel.Error, "meshd cannot use its store: {Failure} /healthz and /readyz answer 503 until it can.")]
    private static partial void LogFailing(ILogger logger, string failure);

    [LoggerMessage(2, LogLevel.Information, "The store takes writes again; /healthz and /readyz answer 200.")]
    private static partial void LogRecovered(ILogger logger);
}
