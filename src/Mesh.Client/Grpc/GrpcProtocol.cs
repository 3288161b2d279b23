using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace Mesh.Grpc;

/// <summary>
/// What the mesh reads and writes of the gRPC protocol over HTTP/2: the status of a trailers-only response, retry
/// pushback, the attempt count header and <c>grpc-timeout</c>. No dependency on a gRPC library.
/// </summary>
internal static class GrpcProtocol
{
    public const int Ok = 0;
    public const int DeadlineExceeded = 4;
    public const int Internal = 13;
    public const int Unavailable = 14;

    private const string StatusHeader = "grpc-status";
    private const string MessageHeader = "grpc-message";
    private const string PushbackHeader = "grpc-retry-pushback-ms";
    private const string PreviousAttemptsHeader = "grpc-previous-rpc-attempts";
    private const string TimeoutHeader = "grpc-timeout";

    /// <summary>The status names <c>Retry:On</c> accepts for gRPC calls, in the order of their codes.</summary>
    public static readonly string[] StatusNames =
    [
        "ok", "cancelled", "unknown", "invalid-argument", "deadline-exceeded", "not-found", "already-exists",
        "permission-denied", "resource-exhausted", "failed-precondition", "aborted", "out-of-range", "unimplemented",
        "internal", "unavailable", "data-loss", "unauthenticated",
    ];

    public static bool IsGrpc(HttpRequestMessage request) => IsGrpc(request.Content?.Headers.ContentType);

    public static bool IsGrpc(HttpResponseMessage response) => IsGrpc(response.Content.Headers.ContentType);

    /// <summary>The status of a trailers-only response (the status in its headers), when it has one.</summary>
    public static int? TrailersOnlyStatus(HttpResponseMessage response) =>
        response.StatusCode == HttpStatusCode.OK

        // Only a gRPC call can have one: a plain HTTP answer's headers are not even looked at.
        && (response.RequestMessage is not { } request || IsGrpc(request))
        && response.Headers.NonValidated.TryGetValues(StatusHeader, out var values)
        && int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var status)
            ? status
            : null;

    /// <summary>Sets OpenTelemetry's RPC attributes on a span of a gRPC call: system, service, method and, when known, status.</summary>
    public static void Tag(System.Diagnostics.Activity activity, HttpRequestMessage request, HttpResponseMessage? response)
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

        if (response is not null)
        {
            // A response whose headers carry no status has committed the call: its status comes in the trailers later.
            if (TrailersOnlyStatus(response) is { } status)
            {
                activity.SetTag("rpc.grpc.status_code", status);
            }
        }
    }

    /// <summary>Whether a gRPC status counts as a failure of the endpoint that gave it.</summary>
    public static bool IsServerFailure(int status) => status is Unavailable or Internal or DeadlineExceeded;

    /// <summary>
    /// The server's retry pushback: <see langword="null"/> when absent, <see cref="Timeout.InfiniteTimeSpan"/> when it
    /// says not to retry (negative or unreadable), otherwise the wait.
    /// </summary>
    public static TimeSpan? Pushback(HttpResponseMessage response)
    {
        if (!response.Headers.NonValidated.TryGetValues(PushbackHeader, out var values))
        {
            return null;
        }

        return int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var milliseconds)
            ? TimeSpan.FromMilliseconds(milliseconds)
            : Timeout.InfiniteTimeSpan;
    }

    /// <summary>Tells the server how many attempts came before this one (gRFC A6).</summary>
    public static void SetPreviousAttempts(HttpRequestMessage request, int previous)
    {
        request.Headers.Remove(PreviousAttemptsHeader);
        request.Headers.TryAddWithoutValidation(PreviousAttemptsHeader, previous.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Cuts the call's <c>grpc-timeout</c> to <paramref name="remaining"/> when that is sooner (or when none was set).</summary>
    public static void LimitTimeout(HttpRequestMessage request, TimeSpan remaining)
    {
        if (request.Headers.NonValidated.TryGetValues(TimeoutHeader, out var values) && ParseTimeout(values.ToString()) is { } current && current <= remaining)
        {
            return;
        }

        request.Headers.Remove(TimeoutHeader);
        request.Headers.TryAddWithoutValidation(TimeoutHeader, ((long)Math.Ceiling(Math.Max(1, remaining.TotalMilliseconds))).ToString(CultureInfo.InvariantCulture) + "m");
    }

    /// <summary>A trailers-only response carrying <c>DEADLINE_EXCEEDED</c>, which the gRPC client turns into its RpcException.</summary>
    public static HttpResponseMessage DeadlineExceededResponse(HttpRequestMessage request, string message)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK)
        {
            RequestMessage = request,
            Version = HttpVersion.Version20,
            Content = new ByteArrayContent([]),
        };
        response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        response.Headers.TryAddWithoutValidation(StatusHeader, DeadlineExceeded.ToString(CultureInfo.InvariantCulture));
        response.Headers.TryAddWithoutValidation(MessageHeader, Uri.EscapeDataString(message));
        return response;
    }

    /// <summary>Whether a gRPC request body can be sent again: a unary message is serialized anew on each send.</summary>
    public static bool IsReplayable(HttpContent content) =>
        content.GetType().Name.StartsWith("PushUnaryContent", StringComparison.Ordinal);

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

    private static bool IsGrpc(MediaTypeHeaderValue? contentType) =>
        contentType?.MediaType is { } media && media.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);
}
