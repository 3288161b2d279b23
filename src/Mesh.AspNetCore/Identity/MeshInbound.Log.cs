using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Identity;

internal sealed partial class MeshInbound
{
    [LoggerMessage(1, LogLevel.Warning, "Refused a TLS handshake from {Remote} ({Mode} mode, reason {Reason}): {Problem}. Refusals for this reason are counted in mesh.server.tls.handshakes and logged again after {IntervalSeconds} s.")]
    private static partial void LogHandshakeRefused(ILogger logger, string remote, string mode, string reason, string problem, double intervalSeconds);

    [LoggerMessage(2, LogLevel.Warning, "Refused a plaintext connection from {Remote}: the mode is strict, so only the mesh's mutual TLS is served. Refusals are counted in mesh.server.connections and logged again after {IntervalSeconds} s.")]
    private static partial void LogPlaintextRefused(ILogger logger, string remote, double intervalSeconds);

    [LoggerMessage(3, LogLevel.Information, "Closed a connection from {Remote} that sent nothing within {TimeoutSeconds} s (Mesh:Server:ProtocolDetectionTimeout). Such connections are counted in mesh.server.connections and logged again after {IntervalSeconds} s.")]
    private static partial void LogSilent(ILogger logger, string remote, double timeoutSeconds, double intervalSeconds);
}
