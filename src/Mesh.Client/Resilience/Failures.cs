using System.Net.Sockets;
using Mesh.Discovery;
using Mesh.Protocol;
using Polly;
using Polly.CircuitBreaker;

namespace Mesh.Resilience;

/// <summary>Classifies what an attempt ended with, and says who it counts against.</summary>
internal static class Failures
{
    private const long Http2RefusedStream = 0x7;

    public static FailureKind Classify(Outcome<HttpResponseMessage> outcome, IProtocol protocol) =>
        outcome.Exception is { } exception ? Classify(exception)
        : outcome.Result is { } response ? protocol.Classify(response)
        : FailureKind.None;

    public static FailureKind Classify(Exception exception) => exception switch
    {
        AttemptTimeoutException => FailureKind.AttemptTimeout,
        OperationCanceledException => FailureKind.Canceled,
        BrokenCircuitException or IsolatedCircuitException => FailureKind.Rejected,
        MeshEndpointUnavailableException { NoEndpoint: true } => FailureKind.Rejected,
        HttpRequestException http when IsOwnAuthenticationFailure(http) => FailureKind.Rejected,
        HttpRequestException http when NeverSent(http) => FailureKind.ConnectFailure,
        HttpRequestException { InnerException: HttpProtocolException { ErrorCode: Http2RefusedStream } } => FailureKind.RefusedStream,
        HttpProtocolException { ErrorCode: Http2RefusedStream } => FailureKind.RefusedStream,
        _ => FailureKind.Reset,
    };

    /// <summary>Whether the failure proves the request never reached the endpoint.</summary>
    public static bool NeverSent(HttpRequestException exception) =>
        exception.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError
        || (exception.HttpRequestError == HttpRequestError.Unknown && exception.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused });

    /// <summary>
    /// Whether the connection failed because this workload could not authenticate itself (no valid certificate of its
    /// own): nothing was sent, no endpoint is to blame, and every other endpoint would fail the same way.
    /// </summary>
    public static bool IsOwnAuthenticationFailure(HttpRequestException exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.UserAuthenticationError })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether outlier detection counts this as the endpoint's failure.</summary>
    public static bool CountsAgainstEndpoint(FailureKind kind) =>
        kind is FailureKind.ServerError or FailureKind.ConnectFailure or FailureKind.RefusedStream or FailureKind.Reset or FailureKind.AttemptTimeout;

    /// <summary>
    /// Whether the service breaker counts this as the service's failure. An endpoint that cannot be reached is not the
    /// service failing: the request moves to another endpoint, and outlier detection ejects the dead one.
    /// </summary>
    public static bool CountsAgainstService(FailureKind kind) =>
        kind is FailureKind.ServerError or FailureKind.Reset or FailureKind.AttemptTimeout;
}
