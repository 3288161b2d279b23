namespace Mesh.Discovery;

/// <summary>
/// No endpoint of a service could be reached: every endpoint tried refused or failed the connection before the
/// request was sent. Derives from <see cref="HttpRequestException"/>, so code that handles HttpClient failures
/// handles it too.
/// </summary>
public sealed class MeshEndpointUnavailableException : HttpRequestException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="serviceName">The logical name of the service.</param>
    /// <param name="endpointsTried">The endpoints tried, in order.</param>
    /// <param name="innerException">The failure of the last endpoint tried.</param>
    public MeshEndpointUnavailableException(string serviceName, IReadOnlyList<Uri> endpointsTried, Exception? innerException)
        : this(serviceName, endpointsTried, innerException, string.Empty)
    {
    }

    internal MeshEndpointUnavailableException(string serviceName, IReadOnlyList<Uri> endpointsTried, Exception? innerException, string note)
        : this(serviceName, endpointsTried, innerException, FormatMessage(serviceName, endpointsTried, innerException) + note, noEndpoint: false)
    {
    }

    private MeshEndpointUnavailableException(string serviceName, IReadOnlyList<Uri> endpointsTried, Exception? innerException, string message, bool noEndpoint)
        : base(HttpRequestError.ConnectionError, message, innerException)
    {
        ServiceName = serviceName;
        EndpointsTried = endpointsTried;
        NoEndpoint = noEndpoint;
    }

    /// <summary>Gets the logical name of the service.</summary>
    public string ServiceName { get; }

    /// <summary>Gets the endpoints tried, in order.</summary>
    public IReadOnlyList<Uri> EndpointsTried { get; }

    /// <summary>Gets whether the service has no endpoint at all, so nothing was tried and trying again is pointless.</summary>
    internal bool NoEndpoint { get; }

    /// <summary>
    /// The failure of a call to a service that has no endpoint now: its source (such as the control plane) lists none, or
    /// <paramref name="unreachable"/> says why none of those it lists may be called.
    /// </summary>
    internal static MeshEndpointUnavailableException NoEndpoints(string serviceName, string source, string? unreachable = null) => new(
        serviceName,
        [],
        null,
        unreachable is null
            ? $"No endpoint of service '{serviceName}' could be reached: it has no registered instance ({source} lists none)."
            : $"No endpoint of service '{serviceName}' may be called: {unreachable}",
        noEndpoint: true);

    private static string FormatMessage(string serviceName, IReadOnlyList<Uri> endpointsTried, Exception? innerException)
    {
        ArgumentNullException.ThrowIfNull(serviceName);
        ArgumentNullException.ThrowIfNull(endpointsTried);
        var tried = string.Join(", ", endpointsTried.Select(e => e.GetLeftPart(UriPartial.Authority)));
        var reason = innerException is null ? string.Empty : $" Last error: {innerException.Message}";
        return $"No endpoint of service '{serviceName}' could be reached; tried {endpointsTried.Count}: {tried}.{reason}";
    }
}
