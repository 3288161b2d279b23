using System.Diagnostics;

namespace Mesh.Protocol;

/// <summary>
/// Everything the mesh does differently for plain HTTP and for gRPC over HTTP/2, behind one seam chosen once per call
/// (<see cref="Protocols.Of"/>): how an answer is classified, what may be retried, how a deadline travels, which bodies
/// can be sent again, and what spans carry.
/// </summary>
internal interface IProtocol
{
    /// <summary>Whether the protocol itself lets the request be sent twice (HTTP: by method or an Idempotency-Key; gRPC: always, retries go by status).</summary>
    bool IsIdempotent(HttpRequestMessage request);

    /// <summary>Whether <paramref name="content"/> can be sent again.</summary>
    bool IsReplayable(HttpContent? content);

    /// <summary>
    /// Whether the call's cancellation sources may go back to a pool when the answer's headers arrived: not when the
    /// request body may still be streaming then (gRPC), nor when the body is not replayable (a plain stream).
    /// </summary>
    bool MayPoolCancellation(bool replayable);

    /// <summary>Whether an answer is a failure of the server that gave it.</summary>
    FailureKind Classify(HttpResponseMessage response);

    /// <summary>
    /// The RPC status an outcome carries, which <c>Retry:On</c> matches by name: for gRPC the status of a trailers-only
    /// answer, or UNAVAILABLE for an exchange broken before any answer (gRFC A6); <see langword="null"/> for plain HTTP.
    /// </summary>
    int? RpcStatus(FailureKind kind, HttpResponseMessage? response);

    /// <summary>
    /// The server's own word on a retry: <see langword="null"/> when it says nothing, <see cref="Timeout.InfiniteTimeSpan"/>
    /// when it asks not to retry, otherwise the wait it asks for.
    /// </summary>
    TimeSpan? Pushback(HttpResponseMessage response);

    /// <summary>Tells the server how long the caller will wait, in the protocol's own header, when that is sooner than what it says.</summary>
    void LimitDeadline(HttpRequestMessage request, TimeSpan remaining);

    /// <summary>Marks attempt <paramref name="number"/> (from 1) of a call on the request.</summary>
    void OnAttempt(HttpRequestMessage request, int number);

    /// <summary>The answer a caller of this protocol expects when the call's deadline passed, or <see langword="null"/> to throw.</summary>
    HttpResponseMessage? DeadlineExceeded(HttpRequestMessage request, string message);

    /// <summary>Sets the protocol's attributes on a span of the call or of one attempt.</summary>
    void Tag(Activity activity, HttpRequestMessage request, HttpResponseMessage? response);

    /// <summary>Describes an answer for logs and spans, such as <c>status 503</c>.</summary>
    string Describe(HttpResponseMessage response);
}
