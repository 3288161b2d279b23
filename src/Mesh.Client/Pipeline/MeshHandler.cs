using Mesh.ControlPlane;
using Mesh.Endpoint;
using Mesh.Protocol;
using Mesh.Resilience;

namespace Mesh.Pipeline;

/// <summary>
/// The mesh's one handler in a client's pipeline. A request to a service goes through that service's logical layer,
/// then its concrete and endpoint layers, each attempt finally through the handlers after this one (the transport).
/// Any other host passes through untouched, bounded by HttpClient's usual 100 seconds, unless <see cref="OutsideRules"/>
/// says it was meant for the mesh: then it fails without being sent. The first request waits for the
/// mesh to be ready (the control plane's first snapshot, the workload's certificate) when the host did not.
/// </summary>
internal sealed class MeshHandler(ServiceCatalog catalog, MeshReadiness readiness, ControlPlaneWatcher controlPlane, TimeProvider time) : DelegatingHandler, ITransport
{
    /// <summary>The total timeout of requests to hosts that are not services: HttpClient's own default.</summary>
    internal static readonly TimeSpan PassThroughTimeout = TimeSpan.FromSeconds(100);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var started = readiness.StartAsync();
        return started.IsCompleted ? RouteAsync(request, cancellationToken) : SendAfterStartAsync(started, request, cancellationToken);
    }

    Task<HttpResponseMessage> ITransport.SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => base.SendAsync(request, cancellationToken);

    private Task<HttpResponseMessage> RouteAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri;
        if (uri is not { IsAbsoluteUri: true })
        {
            return SendPassThroughAsync(request, cancellationToken);
        }

        if (catalog.TryGetService(uri.Host, out var service))
        {
            return service.SendAsync(request, this, cancellationToken).AsTask();
        }

        return catalog.Outside.Refuse(uri.Host, controlPlane) is { } refused
            ? Task.FromException<HttpResponseMessage>(refused)
            : SendPassThroughAsync(request, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendAfterStartAsync(Task started, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await started.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await RouteAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> SendPassThroughAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // The mesh owns HttpClient's timeout, so hosts outside the mesh keep the 100 s HttpClient would have applied.
        var protocol = Protocols.Of(request);
        using var linked = CallCancellation.Start(PassThroughTimeout, time, protocol.MayPoolCancellation(protocol.IsReplayable(request.Content)), cancellationToken);
        try
        {
            return await base.SendAsync(request, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (linked.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            var message = $"The request to {request.RequestUri?.Host} was canceled after its timeout of {PassThroughTimeout.TotalSeconds:0} s.";
            throw new TaskCanceledException(message, new TimeoutException(message, ex));
        }
    }
}
