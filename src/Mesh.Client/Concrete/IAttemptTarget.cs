using Mesh.Endpoint;
using Mesh.Resilience;
using Polly;

namespace Mesh.Concrete;

/// <summary>Where the strategies send each attempt of a call: a <see cref="Destination"/>, or something in front of one.</summary>
internal interface IAttemptTarget
{
    /// <summary>Sends one attempt of <paramref name="call"/>; its outcome, an answer or the failure, is what the strategies judge.</summary>
    ValueTask<Outcome<HttpResponseMessage>> SendAsync(HttpRequestMessage request, MeshCall call, ITransport transport, CancellationToken cancellationToken);
}
