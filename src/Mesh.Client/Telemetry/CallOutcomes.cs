namespace Mesh.Telemetry;

/// <summary>The values of <c>mesh.outcome</c> on a logical call's metrics and span.</summary>
internal static class CallOutcomes
{
    public const string Success = "success";
    public const string ClientError = "client_error";
    public const string ServerError = "server_error";
    public const string Timeout = "timeout";
    public const string Canceled = "canceled";
    public const string CircuitOpen = "circuit_open";
    public const string RateLimited = "rate_limited";
    public const string Unavailable = "unavailable";
    public const string Error = "error";

    /// <summary>The outcome of a call that got an answer with <paramref name="status"/>.</summary>
    public static string OfStatus(int status) => status >= 500 ? ServerError : status >= 400 ? ClientError : Success;
}
