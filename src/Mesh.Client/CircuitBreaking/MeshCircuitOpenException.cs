namespace Mesh.CircuitBreaking;

/// <summary>A request was not sent because the service's circuit breaker is open after too many failures.</summary>
public sealed class MeshCircuitOpenException : HttpRequestException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="serviceName">The logical name of the service.</param>
    /// <param name="retryAfter">How long until the breaker lets a probe through, when known.</param>
    /// <param name="innerException">The breaker's own exception.</param>
    public MeshCircuitOpenException(string serviceName, TimeSpan? retryAfter, Exception? innerException)
        : base(HttpRequestError.Unknown, FormatMessage(serviceName, retryAfter), innerException)
    {
        ServiceName = serviceName;
        RetryAfter = retryAfter;
    }

    /// <summary>Gets the logical name of the service.</summary>
    public string ServiceName { get; }

    /// <summary>Gets how long until the breaker lets a probe through, when known.</summary>
    public TimeSpan? RetryAfter { get; }

    private static string FormatMessage(string serviceName, TimeSpan? retryAfter) =>
        $"The request to service '{serviceName}' was not sent: the service's circuit breaker is open after too many failures"
        + (retryAfter is { } wait ? $"; it lets a probe through in {wait.TotalSeconds:0.###} s." : ".");
}
