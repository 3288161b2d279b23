namespace Meshd.Security;

/// <summary>The log lines of <see cref="ServiceCredentials"/>, with fixed event ids; they name credentials by id, never by token.</summary>
internal sealed partial class ServiceCredentials
{
    [LoggerMessage(1, LogLevel.Information, "Credential {Id} created for service '{Service}'.")]
    private static partial void LogCreated(ILogger logger, string id, string service);

    [LoggerMessage(2, LogLevel.Information, "Credential {Id} revoked; its token is refused from now on.")]
    private static partial void LogRevoked(ILogger logger, string id);

    [LoggerMessage(3, LogLevel.Warning, "Following the store's changes of credentials failed ({Reason}); credentials as last seen stay in use, and meshd tries again.")]
    private static partial void LogWatchBroken(ILogger logger, string reason);

    [LoggerMessage(4, LogLevel.Information, "Following the store's changes of credentials again.")]
    private static partial void LogFollowing(ILogger logger);

    [LoggerMessage(5, LogLevel.Warning, "The store's key '{Key}' at revision {Revision} is not a credential meshd can read ({Problem}); it grants nothing. Delete it, or revoke it through meshd's API.")]
    private static partial void LogUndecodable(ILogger logger, string key, long revision, string problem);
}
