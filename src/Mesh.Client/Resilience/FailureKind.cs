using System.Net.Sockets;
using Mesh.CircuitBreaking;
using Mesh.Grpc;
using Mesh.RateLimiting;
using Polly;
using Polly.CircuitBreaker;

namespace Mesh.Resilience;

/// <summary>What went wrong with one attempt, as retries, the breaker and outlier detection see it.</summary>
internal enum FailureKind
{
    /// <summary>An answer below 500 (a 429 is still matched by status for retries).</summary>
    None,

    /// <summary>A 5xx answer.</summary>
    ServerError,

    /// <summary>The connection could not be made: the request was never sent.</summary>
    ConnectFailure,

    /// <summary>An HTTP/2 server refused the stream: the request was never processed.</summary>
    RefusedStream,

    /// <summary>The exchange broke after the request was sent.</summary>
    Reset,

    /// <summary>The attempt exceeded the service's attempt timeout.</summary>
    AttemptTimeout,

    /// <summary>Cancelled by the caller or by the call's deadline.</summary>
    Canceled,

    /// <summary>Not sent by the mesh's own decision (breaker open, rate limit).</summary>
    Rejected,
}

/// <summary>Classifies attempt outcomes.</summary>
internal static class Failures
{
    private const long Http2RefusedStream = 0x7;

    public static FailureKind Classify(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is { } exception ? Classify(exception)
        : outcome.Result is { } response ? Classify(response)
        : FailureKind.None;

    /// <summary>A 5xx answer, or a gRPC status that speaks against the server (UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED).</summary>
    public static FailureKind Classify(HttpResponseMessage response) =>
        (int)response.StatusCode >= 500 || (GrpcProtocol.TrailersOnlyStatus(response) is { } status && GrpcProtocol.IsServerFailure(status))
            ? FailureKind.ServerError
            : FailureKind.None;

    public static FailureKind Classify(Exception exception) => exception switch
    {
        AttemptTimeoutException => FailureKind.AttemptTimeout,
        OperationCanceledException => FailureKind.Canceled,
        BrokenCircuitException or IsolatedCircuitException or MeshCircuitOpenException or MeshRateLimitedException => FailureKind.Rejected,
        HttpRequestException http when NeverSent(http) => FailureKind.ConnectFailure,
        HttpRequestException { InnerException: HttpProtocolException { ErrorCode: Http2RefusedStream } } => FailureKind.RefusedStream,
        HttpProtocolException { ErrorCode: Http2RefusedStream } => FailureKind.RefusedStream,
        _ => FailureKind.Reset,
    };

    /// <summary>Whether the failure proves the request never reached the endpoint.</summary>
    public static bool NeverSent(HttpRequestException exception) =>
        exception.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError
        || (exception.HttpRequestError == HttpRequestError.Unknown && exception.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused });

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
