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
}
