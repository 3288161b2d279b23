using System.Diagnostics;
using System.Net.Http.Json;

namespace Mesh.Protocol;

/// <summary>Plain HTTP: a 5xx is a server failure, RFC 9110 says which methods are idempotent, and the deadline travels in <c>mesh-timeout</c> only.</summary>
internal sealed class HttpProtocol : IProtocol
{
    private const string IdempotencyKeyHeader = "Idempotency-Key";

    private static readonly HashSet<HttpMethod> s_idempotentMethods =
        [HttpMethod.Get, HttpMethod.Head, HttpMethod.Options, HttpMethod.Trace, HttpMethod.Put, HttpMethod.Delete];

    public bool IsIdempotent(HttpRequestMessage request) =>
        s_idempotentMethods.Contains(request.Method) || request.Headers.Contains(IdempotencyKeyHeader);

    public bool IsReplayable(HttpContent? content) => IsBufferedBody(content);

    public bool MayPoolCancellation(bool replayable) => replayable;

    public FailureKind Classify(HttpResponseMessage response) =>
        (int)response.StatusCode >= 500 ? FailureKind.ServerError : FailureKind.None;

    public int? RpcStatus(FailureKind kind, HttpResponseMessage? response) => null;

    public TimeSpan? Pushback(HttpResponseMessage response) => null;

    public void LimitDeadline(HttpRequestMessage request, TimeSpan remaining)
    {
    }

    public void OnAttempt(HttpRequestMessage request, int number)
    {
    }

    public HttpResponseMessage? DeadlineExceeded(HttpRequestMessage request, string message) => null;

    public void Tag(Activity activity, HttpRequestMessage request, HttpResponseMessage? response)
    {
    }

    public string Describe(HttpResponseMessage response) => $"status {(int)response.StatusCode}";

    /// <summary>Whether a body is held whole in memory, so it can be sent again.</summary>
    internal static bool IsBufferedBody(HttpContent? content) => content switch
    {
        null or ByteArrayContent or ReadOnlyMemoryContent or JsonContent => true,
        MultipartContent multipart => multipart.All(IsBufferedBody),
        _ => false,
    };
}
