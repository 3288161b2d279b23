using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Registration;

internal sealed partial class RegistrationHealth
{
    [LoggerMessage(11, LogLevel.Information, "Registration of {Service} waits for its health checks ({Checks}), run every {Seconds} s: it registers once they pass.")]
    private static partial void LogWaitsForHealth(ILogger logger, string service, string checks, double seconds);

    [LoggerMessage(12, LogLevel.Information, "The health checks of {Service} instance {InstanceId} pass: it registers at its weight.")]
    private static partial void LogHealthPasses(ILogger logger, string service, string instanceId);

    [LoggerMessage(13, LogLevel.Warning, "The health checks of {Service} instance {InstanceId} fail, so it takes no traffic: {Failing}.")]
    private static partial void LogHealthFails(ILogger logger, string service, string instanceId, string failing);
}
