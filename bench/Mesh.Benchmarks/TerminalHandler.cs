using System.Net;

namespace Mesh.Benchmarks;

/// <summary>The end of every benchmarked pipeline: answers 200 at once, with no network, so only the handlers above it are measured.</summary>
internal sealed class TerminalHandler : HttpMessageHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request });
}
