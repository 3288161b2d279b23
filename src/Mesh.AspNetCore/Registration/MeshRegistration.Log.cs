using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Registration;

internal sealed partial class MeshRegistration
{
    [LoggerMessage(1, LogLevel.Information, "Registered {Service} instance {InstanceId} at {Address} (identity {Identity}, weight {Weight}) with the control plane; lease of {TtlSeconds} s.")]
    private static partial void LogRegistered(ILogger logger, string service, string instanceId, Uri address, string identity, int weight, double ttlSeconds);

    [LoggerMessage(2, LogLevel.Warning, "The lease of {Service} instance {InstanceId} lapsed; registering again.")]
    private static partial void LogLeaseLost(ILogger logger, string service, string instanceId);

    [LoggerMessage(3, LogLevel.Warning, "Control plane {Address} unreachable for registration: {Problem}")]
    private static partial void LogUnreachable(ILogger logger, Uri address, string problem);

    [LoggerMessage(4, LogLevel.Warning, "Control plane {Address} refused the registration request with status {Status}.")]
    private static partial void LogRefused(ILogger logger, Uri address, int status);

    [LoggerMessage(5, LogLevel.Information, "Deregistered {Service} instance {InstanceId} from the control plane.")]
    private static partial void LogDeregistered(ILogger logger, string service, string instanceId);

    [LoggerMessage(6, LogLevel.Information, "Draining {Service} instance {InstanceId} for {Seconds} s before the server stops (deregistered: {Deregistered}).")]
    private static partial void LogDraining(ILogger logger, string service, string instanceId, double seconds, bool deregistered);

    [LoggerMessage(7, LogLevel.Warning, "The drain of {Service} instance {InstanceId} was cut short by the host's shutdown timeout.")]
    private static partial void LogDrainCut(ILogger logger, string service, string instanceId);

    [LoggerMessage(8, LogLevel.Information, "Not registering with the control plane: Mesh:ServiceName is not set.")]
    private static partial void LogNoServiceName(ILogger logger);

    [LoggerMessage(9, LogLevel.Warning, "Not registering {Service} with the control plane: the server reports no bound address; set Mesh:Server:AdvertisedAddress.")]
    private static partial void LogNoAddress(ILogger logger, string service);

    [LoggerMessage(10, LogLevel.Warning, "The control plane refused the report of {Service} instance {InstanceId}; renewing its lease without it.")]
    private static partial void LogReportRefused(ILogger logger, string service, string instanceId);

    [LoggerMessage(14, LogLevel.Warning, "Draining {Service} instance {InstanceId} for failing health checks: weight 0 for {Seconds} s, then deregistering.")]
    private static partial void LogHealthDrain(ILogger logger, string service, string instanceId, double seconds);

    [LoggerMessage(15, LogLevel.Information, "Drained {Service} instance {InstanceId} for failing health checks (deregistered: {Deregistered}); it registers again once they pass.")]
    private static partial void LogHealthDrained(ILogger logger, string service, string instanceId, bool deregistered);

    [LoggerMessage(16, LogLevel.Warning, "The control plane asked {Service} instance {InstanceId} to wait {AskedSeconds} s before trying again; trying in {Seconds} s instead, to keep its lease of {TtlSeconds} s.")]
    private static partial void LogRetryAfterShortened(ILogger logger, string service, string instanceId, double askedSeconds, double seconds, double ttlSeconds);
}
