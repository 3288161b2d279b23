using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Registration;

internal sealed partial class ConsulRegistration
{
    [LoggerMessage(1, LogLevel.Information, "Registered {Service} instance {InstanceId} with the Consul agent {Agent}; check TTL {TtlSeconds} s.")]
    private static partial void LogRegistered(ILogger logger, string service, string instanceId, Uri agent, double ttlSeconds);

    [LoggerMessage(2, LogLevel.Warning, "The Consul agent no longer knows {Service} instance {InstanceId}; registering again.")]
    private static partial void LogForgotten(ILogger logger, string service, string instanceId);

    [LoggerMessage(3, LogLevel.Warning, "Consul agent {Agent} unreachable for registration: {Problem}")]
    private static partial void LogUnreachable(ILogger logger, Uri agent, string problem);

    [LoggerMessage(4, LogLevel.Warning, "Consul agent {Agent} refused the registration request with status {Status}.")]
    private static partial void LogRefused(ILogger logger, Uri agent, int status);

    [LoggerMessage(5, LogLevel.Information, "Deregistered {Service} instance {InstanceId} from the Consul agent.")]
    private static partial void LogDeregistered(ILogger logger, string service, string instanceId);

    [LoggerMessage(6, LogLevel.Information, "Draining {Service} instance {InstanceId} for {Seconds} s before the server stops (deregistered from Consul: {Deregistered}).")]
    private static partial void LogDraining(ILogger logger, string service, string instanceId, double seconds, bool deregistered);

    [LoggerMessage(7, LogLevel.Warning, "The drain of {Service} instance {InstanceId} was cut short by the host's shutdown timeout.")]
    private static partial void LogDrainCut(ILogger logger, string service, string instanceId);

    [LoggerMessage(8, LogLevel.Warning, "Not registering {Service} with the Consul agent: the server reports no bound address; set Mesh:Server:AdvertisedAddress.")]
    private static partial void LogNoAddress(ILogger logger, string service);

    [LoggerMessage(9, LogLevel.Information, "Consul agent {Agent} reachable again after {Failures} failed requests.")]
    private static partial void LogRecovered(ILogger logger, Uri agent, int failures);

    [LoggerMessage(10, LogLevel.Warning, "Marked the Consul check of {Service} instance {InstanceId} critical for failing health checks: queries for passing instances leave it out until they pass.")]
    private static partial void LogMarkedCritical(ILogger logger, string service, string instanceId);

    [LoggerMessage(11, LogLevel.Information, "The Consul check of {Service} instance {InstanceId} passes again: its health checks recovered.")]
    private static partial void LogPassingAgain(ILogger logger, string service, string instanceId);
}
