using System.Globalization;

namespace Mesh.Retry;

/// <summary>The failure classes <see cref="RetryOptions.On"/> accepts besides status codes.</summary>
public static class RetryOn
{
    /// <summary>The connection could not be made (refused, name or TLS failure): the request was never sent.</summary>
    public const string ConnectFailure = "connect-failure";

    /// <summary>An HTTP/2 server refused the stream: the request was never processed.</summary>
    public const string RefusedStream = "refused-stream";

    /// <summary>The connection broke after the request was sent; retried only for idempotent requests.</summary>
    public const string Reset = "reset";

    /// <summary>Any 5xx status code, and an attempt timeout.</summary>
    public const string ServerError = "5xx";

    /// <summary>Status 502, 503 or 504, and an attempt timeout.</summary>
    public const string GatewayError = "gateway-error";

    /// <summary>The gRPC status names <see cref="RetryOptions.On"/> accepts, in the order of their codes (0 is OK).</summary>
    internal static readonly string[] GrpcStatusNames =
    [
        "ok", "cancelled", "unknown", "invalid-argument", "deadline-exceeded", "not-found", "already-exists",
        "permission-denied", "resource-exhausted", "failed-precondition", "aborted", "out-of-range", "unimplemented",
        "internal", "unavailable", "data-loss", "unauthenticated",
    ];

    /// <summary>Whether <paramref name="token"/> is a failure class, a status code from 100 to 599, or a gRPC status name other than ok.</summary>
    internal static bool IsKnown(string? token)
    {
        if (token is null)
        {
            return false;
        }

        var normal = Normalize(token);
        return normal is ConnectFailure or RefusedStream or Reset or ServerError or GatewayError
            || Array.IndexOf(GrpcStatusNames, normal) > 0
            || (int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var status) && status is >= 100 and <= 599);
    }

    /// <summary>A token as matched: trimmed, lower case.</summary>
    internal static string Normalize(string token) => token.Trim().ToLowerInvariant();
}
