namespace Meshd.Security;

/// <summary>The log lines of <see cref="ServerCertificate"/>, with fixed event ids.</summary>
internal sealed partial class ServerCertificate
{
    [LoggerMessage(1, LogLevel.Information, "Serving the renewed TLS certificate from {File} (valid until {NotAfter:u}).")]
    private static partial void LogReloaded(ILogger logger, string file, DateTime notAfter);

    [LoggerMessage(2, LogLevel.Warning, "The TLS certificate in {File} changed but cannot be used ({Problem}); the previous one is served.")]
    private static partial void LogReloadFailed(ILogger logger, string file, string problem);
}
