using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Authorization;

internal sealed partial class MeshAuthorizationMiddleware
{
    [LoggerMessage(40, LogLevel.Warning, "Denied {Method} {Path} on service {Service} to caller {Caller} from {Remote}: {Reason}. Rule: {Rule}.")]
    private static partial void LogDenied(ILogger logger, string method, string path, string service, string caller, string remote, string reason, string rule);

    [LoggerMessage(41, LogLevel.Debug, "Allowed {Method} {Path} on service {Service} to caller {Caller}. Rule: {Rule}.")]
    private static partial void LogAllowed(ILogger logger, string method, string path, string service, string caller, string rule);

    [LoggerMessage(42, LogLevel.Warning, "Refused {Method} on service {Service} from caller {Caller} at {Remote} with 400: the path holds a control character such as %00 once decoded.")]
    private static partial void LogBadPath(ILogger logger, string method, string service, string caller, string remote);

    [LoggerMessage(43, LogLevel.Information, "Refused a request of caller {Caller} on service {Service} with 429: over its rate limit of {PermitsPerSecond}/s (burst {Burst}). Counted in mesh.server.rate_limited.")]
    private static partial void LogLimited(ILogger logger, string caller, string service, int permitsPerSecond, int burst);
}
