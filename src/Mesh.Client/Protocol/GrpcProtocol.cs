using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Mesh.Retry;

namespace Mesh.Protocol;

/// <summary>
/// gRPC over HTTP/2, as far as the mesh reads and writes it: the status of a trailers-only answer, retry pushback and
/// the attempt count (gRFC A6), <c>grpc-timeout</c>, and the RPC attributes of spans. No dependency on a gRPC library.
/// </summary>
internal sealed class GrpcProtocol : IProtocol
{
    public const int Ok = 0;
    public const int DeadlineExceededStatus = 4;
    public const int Internal = 13;
    public const int Unavailable = 14;

    private const string StatusHeader = "grpc-status";
    private const string MessageHeader = "grpc-message";
    private const string PushbackHeader = "grpc-retry-pushback-ms";
    private const string PreviousAttemptsHeader = "grpc-previous-rpc-attempts";
    private const string TimeoutHeader = "grpc-timeout";

    // A unary message is serialized anew on each send; no other gRPC body can be sent twice.
    public bool IsReplayable(HttpContent? content) =>
        HttpProtocol.IsBufferedBody(content) || (content is not null && content.GetType().Name.StartsWith("PushUnaryContent", StringComparison.Ordinal));

    // A gRPC call is a POST whose idempotency is the method's business; gRFC A6 retries it by status alone.
    public bool IsIdempotent(HttpRequestMessage request) => true;

    // The request stream of a gRPC call may still be writing after the answer's headers arrived.
    public bool MayPoolCancellation(bool replayable) => false;

    public FailureKind Classify(HttpResponseMessage response) =>
        (int)response.StatusCode >= 500 || (TrailersOnlyStatus(response) is { } status && IsServerFailure(status))
            ? FailureKind.ServerError
            : FailureKind.None;

    public int? RpcStatus(FailureKind kind, HttpResponseMessage? response) => kind switch
    {
        // A broken exchange with no answer is what a gRPC client reports as UNAVAILABLE: the call had not committed.
        FailureKind.Reset => Unavailable,
        FailureKind.ServerError or FailureKind.None when response is not null => TrailersOnlyStatus(response),
        _ => null,
    };

    public TimeSpan? Pushback(HttpResponseMessage response)
    {
        if (!response.Headers.NonValidated.TryGetValues(PushbackHeader, out var values))
        {
            return null;
        }

        // Negative or unreadable: the server asks not to retry.
        return int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var milliseconds)
            ? TimeSpan.FromMilliseconds(milliseconds)
            : Timeout.InfiniteTimeSpan;
    }

    /// <summary>Cuts the call's <c>grpc-timeout</c> to <paramref name="remaining"/> when that is sooner (or when none was set).</summary>
    public void LimitDeadline(HttpRequestMessage request, TimeSpan remaining)
    {
        if (request.Headers.NonValidated.TryGetValues(TimeoutHeader, out var values) && ParseTimeout(values.ToString()) is { } current && current <= remaining)
        {
            return;
        }

        request.Headers.Remove(TimeoutHeader);
        request.Headers.TryAddWithoutValidation(TimeoutHeader, ((long)Math.Ceiling(Math.Max(1, remaining.TotalMilliseconds))).ToString(CultureInfo.InvariantCulture) + "m");
    }

    /// <summary>Tells the server how many attempts came before this one (gRFC A6).</summary>
    public void OnAttempt(HttpRequestMessage request, int number)
    {
        if (number > 1)
        {
            request.Headers.Remove(PreviousAttemptsHeader);
            request.Headers.TryAddWithoutValidation(PreviousAttemptsHeader, (number - 1).ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>A trailers-only answer carrying <c>DEADLINE_EXCEEDED</c>, which the gRPC client turns into its RpcException.</summary>
    public HttpResponseMessage? DeadlineExceeded(HttpRequestMessage request, string message) => TrailersOnly(request, DeadlineExceededStatus, message);

    /// <summary>A trailers-only answer (HTTP 200, the status in the headers) with <paramref name="status"/>, made here rather than by a server.</summary>
    public static HttpResponseMessage TrailersOnly(HttpRequestMessage request, int status, string message)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK)
        {
            RequestMessage = request,
            Version = HttpVersion.Version20,
            Content = new ByteArrayContent([]),
        };
        response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        response.Headers.TryAddWithoutValidation(StatusHeader, status.ToString(CultureInfo.InvariantCulture));
        response.Headers.TryAddWithoutValidation(MessageHeader, Uri.EscapeDataString(message));
        return response;
    }

    /// <summary>Sets OpenTelemetry's RPC attributes: system, service, method and, for a trailers-only answer, status.</summary>
    public void Tag(Activity activity, HttpRequestMessage request, HttpResponseMessage? response)
    {
        activity.SetTag("rpc.system", "grpc");

        // The path of a gRPC call is /{package.Service}/{Method}.
        var path = request.RequestUri?.AbsolutePath ?? string.Empty;
        var slash = path.LastIndexOf('/');
        if (slash > 0)
        {
            activity.SetTag("rpc.service", path[1..slash]);
            activity.SetTag("rpc.method", path[(slash + 1)..]);
        }

        // An answer whose headers carry no status has committed the call: its status comes in the trailers later.
        if (response is not null && TrailersOnlyStatus(response) is { } status)
        {
            activity.SetTag("rpc.grpc.status_code", status);
        }
    }

    public string Describe(HttpResponseMessage response) =>
        TrailersOnlyStatus(response) is { } status && status != Ok
            ? $"gRPC status {RetryOn.GrpcStatusNames[Math.Clamp(status, 0, RetryOn.GrpcStatusNames.Length - 1)]}"
            : $"status {(int)response.StatusCode}";

    /// <summary>Whether a request is a gRPC call: its content type is <c>application/grpc</c> or a subtype of it.</summary>
    public static bool IsGrpc(HttpRequestMessage request) =>
        request.Content?.Headers.ContentType?.MediaType is { } media && media.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether a gRPC status counts as a failure of the endpoint that gave it.</summary>
    public static bool IsServerFailure(int status) => status is Unavailable or Internal or DeadlineExceededStatus;

    /// <summary>The status of a trailers-only answer (the status in its headers), when it has one.</summary>
    public static int? TrailersOnlyStatus(HttpResponseMessage response) =>
        response.StatusCode == HttpStatusCode.OK
        && response.Headers.NonValidated.TryGetValues(StatusHeader, out var values)
        && int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var status)
            ? status
            : null;

    /// <summary>Parses a <c>grpc-timeout</c> value: at most eight digits and a unit (H, M, S, m, u, n).</summary>
    internal static TimeSpan? ParseTimeout(string value)
    {
        if (value.Length is < 2 or > 9 || !long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            return null;
        }

        return value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => null,
        };
    }
}
