namespace Meshd.Security;

/// <summary>The log lines of <see cref="TokenFilter"/>, with fixed event ids; they name credentials by id, never a token.</summary>
internal sealed partial class TokenFilter
{
    [LoggerMessage(1, LogLevel.Warning, "Refused {Method} {Route}: credential {CredentialId} is bound to service '{Bound}', not '{Asked}'.")]
    private static partial void LogOtherService(ILogger logger, string method, string route, string credentialId, string bound, string asked);
}
