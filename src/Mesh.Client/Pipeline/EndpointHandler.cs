using System.Net.Sockets;
using Mesh.Balancing;
using Mesh.Discovery;
using Microsoft.Extensions.Logging;

namespace Mesh.Pipeline;

/// <summary>
/// The innermost mesh handler: resolves the logical host to a service, lets its balancer pick an endpoint, rewrites
/// scheme, host and port, and records the attempt's latency and outcome on the endpoint's lease. A request that never
/// reached its endpoint (connection refused, name or TLS failure) moves to an endpoint not yet tried.
/// Hosts that are not services pass through untouched.
/// </summary>
internal sealed partial class EndpointHandler(ServiceCatalog catalog, TimeProvider time, MeshRandom random, ILogger<EndpointHandler> logger)
    : DelegatingHandler
{
    /// <summary>The most endpoints one request tries when connections fail.</summary>
    internal const int MaxEndpointsTried = 3;

    // The path and query come from a parsed Uri, so they are already canonical: parsing them again is wasted work.
    private static readonly UriCreationOptions s_canonical = new() { DangerousDisablePathAndQueryCanonicalization = true };

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var logical = request.RequestUri;
        return logical is not null && logical.IsAbsoluteUri && catalog.TryGetService(logical.Host, out var service)
            ? SendToServiceAsync(request, logical, service, cancellationToken)
            : base.SendAsync(request, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendToServiceAsync(HttpRequestMessage request, Uri logical, ServiceState service, CancellationToken cancellationToken)
    {
        var pathAndQuery = logical.GetComponents(UriComponents.PathAndQuery, UriFormat.UriEscaped);
        List<EndpointState>? tried = null;
        try
        {
            while (true)
            {
                var endpoint = tried is null ? service.Balancer.Pick(request) : PickUntried(service, request, tried);
                if (endpoint is null)
                {
                    throw Unavailable(service, tried!, innerException: null);
                }

                request.RequestUri = new Uri(endpoint.Authority + pathAndQuery, in s_canonical);
                var lease = endpoint.Acquire(time.GetTimestamp());
                var outcome = EndpointOutcome.Failure;
                try
                {
                    var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
                    outcome = (int)response.StatusCode >= 500 ? EndpointOutcome.Failure : EndpointOutcome.Success;
                    return response;
                }
                catch (HttpRequestException ex) when (NeverSent(ex) && !cancellationToken.IsCancellationRequested)
                {
                    outcome = EndpointOutcome.NotSent;
                    tried ??= new List<EndpointState>(MaxEndpointsTried);
                    tried.Add(endpoint);
                    LogNotReached(logger, service.Name, endpoint.Authority, ex.Message);
                    if (tried.Count >= Math.Min(MaxEndpointsTried, service.Routable.Length))
                    {
                        throw Unavailable(service, tried, ex);
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    outcome = EndpointOutcome.Canceled;
                    throw;
                }
                finally
                {
                    lease.Complete(outcome, time.GetTimestamp());
                }
            }
        }
        finally
        {
            // Layers above (retries) see the logical address and can pick again.
            request.RequestUri = logical;
        }
    }

    /// <summary>Whether the failure proves the request never reached the endpoint, so another may take it.</summary>
    internal static bool NeverSent(HttpRequestException ex) =>
        ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError
        || (ex.HttpRequestError == HttpRequestError.Unknown && ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused });

    private EndpointState? PickUntried(ServiceState service, HttpRequestMessage request, List<EndpointState> tried)
    {
        // The balancer's choice first; when it keeps landing on a failed endpoint, the next untried one from a random start.
        for (var i = 0; i < 2; i++)
        {
            var candidate = service.Balancer.Pick(request);
            if (!tried.Contains(candidate))
            {
                return candidate;
            }
        }

        var routable = service.Routable;
        var start = random.Next(routable.Length);
        for (var i = 0; i < routable.Length; i++)
        {
            var candidate = routable[(start + i) % routable.Length];
            if (!tried.Contains(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private MeshEndpointUnavailableException Unavailable(ServiceState service, List<EndpointState> tried, HttpRequestException? innerException)
    {
        var exception = new MeshEndpointUnavailableException(service.Name, tried.ConvertAll(e => e.Endpoint.Address), innerException);
        LogUnavailable(logger, service.Name, tried.Count);
        return exception;
    }

    [LoggerMessage(10, LogLevel.Warning, "Endpoint {Endpoint} of service '{Service}' was not reached ({Reason}); trying another endpoint.")]
    private static partial void LogNotReached(ILogger logger, string service, string endpoint, string reason);

    [LoggerMessage(11, LogLevel.Error, "No endpoint of service '{Service}' could be reached after trying {Count}.")]
    private static partial void LogUnavailable(ILogger logger, string service, int count);
}
