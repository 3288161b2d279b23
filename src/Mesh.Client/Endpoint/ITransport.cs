namespace Mesh.Endpoint;

/// <summary>Where an attempt is finally sent: the client's handlers after the mesh's, and its connection pool.</summary>
internal interface ITransport
{
    /// <summary>Sends one attempt, already addressed to its endpoint.</summary>
    Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken);
}
