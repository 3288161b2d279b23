namespace Mesh.Discovery;

/// <summary>
/// A meshed client refused to send a request outside the mesh: its host is meant for the mesh (or
/// <c>Mesh:OutboundTrafficPolicy</c> is <c>RegistryOnly</c>) but is not a service the mesh knows now. The message says
/// why and what the control plane last said (a refused token, meshd unreachable). Nothing was sent.
/// </summary>
public sealed class MeshServiceUnknownException : HttpRequestException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="host">The request's host.</param>
    /// <param name="message">Why the request was not sent.</param>
    public MeshServiceUnknownException(string host, string message)
        : base(HttpRequestError.NameResolutionError, message)
    {
        Host = host;
    }

    /// <summary>Gets the host the request was for.</summary>
    public string Host { get; }
}
