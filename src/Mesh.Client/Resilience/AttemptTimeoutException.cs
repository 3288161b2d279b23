namespace Mesh.Resilience;

/// <summary>One attempt exceeded the service's attempt timeout; the call may still be retried.</summary>
internal sealed class AttemptTimeoutException(string serviceName, TimeSpan timeout)
    : TimeoutException($"An attempt to service '{serviceName}' did not answer within its attempt timeout of {timeout.TotalMilliseconds:0.###} ms.")
{
    public TimeSpan Timeout { get; } = timeout;
}
