using System.Net;

namespace Mesh.Benchmarks;

/// <summary>The end of every benchmarked pipeline: answers 200 at once, with no network, so only the handlers above it are measured.</summary>
internal sealed class TerminalHandler : HttpMessageHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request });
}

/// <summary>Answers 200 after yielding the thread, so the handlers above it wait as they would on a socket.</summary>
internal sealed class WaitingTerminalHandler : HttpMessageHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await Task.Yield();
        return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request };
    }
}
