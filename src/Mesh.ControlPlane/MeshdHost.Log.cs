namespace Meshd;

/// <summary>The log lines of <see cref="MeshdHost"/>, with fixed event ids.</summary>
public sealed partial class MeshdHost
{
    [LoggerMessage(1, LogLevel.Information, "File descriptors: soft limit {Before} raised to {After}. Limits: {MaxConnections} connections, {PerAddress} per client address, {MaxWatchers} parked watchers.")]
    private static partial void LogLimits(ILogger logger, long before, long after, int maxConnections, int perAddress, int maxWatchers);
}
