namespace Mesh.RateLimiting;

/// <summary>A request was not sent because the service's client-side rate limit was reached.</summary>
public sealed class MeshRateLimitedException : HttpRequestException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="serviceName">The logical name of the service.</param>
    /// <param name="permitsPerSecond">The limit in force.</param>
    public MeshRateLimitedException(string serviceName, int permitsPerSecond)
        : base($"The request to service '{serviceName}' was not sent: its client-side rate limit of {permitsPerSecond} requests per second was reached.")
    {
        ServiceName = serviceName;
    }

    /// <summary>Gets the logical name of the service.</summary>
    public string ServiceName { get; }
}
