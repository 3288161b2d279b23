namespace Meshd;

/// <summary>The log lines of <see cref="MeshdHost"/>, with fixed event ids.</summary>
public sealed partial class MeshdHost
{
    [LoggerMessage(1, LogLevel.Information, "File descriptors: soft limit {Before} raised to {After}. Limits: {MaxConnections} connections, {PerAddress} per client address, {MaxWatchers} parked watchers.")]
    private static partial void LogLimits(ILogger logger, long before, long after, int maxConnections, int perAddress, int maxWatchers);

    [LoggerMessage(2, LogLevel.Warning, "The shared workload token (Meshd:WorkloadToken) is deprecated: it lets any workload register, renew, deregister and get certificates for any service. Create a credential per service (POST /v1/credentials), give each service its own as Mesh:ControlPlane:Token, then set Meshd:RequireServiceCredentials=true.")]
    private static partial void LogSharedWorkloadTokenDeprecated(ILogger logger);

    [LoggerMessage(3, LogLevel.Information, "Only the admin token and per-service credentials are taken (Meshd:RequireServiceCredentials=true); the shared workload token is refused.")]
    private static partial void LogSharedWorkloadTokenRefused(ILogger logger);
}
