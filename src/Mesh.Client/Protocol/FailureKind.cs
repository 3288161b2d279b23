namespace Mesh.Protocol;

/// <summary>What went wrong with one attempt, as retries, the breaker and outlier detection see it.</summary>
internal enum FailureKind
{
    /// <summary>An answer that is not a failure of the server (below 500; a 429 is still matched by status for retries).</summary>
    None,

    /// <summary>A 5xx answer, or a gRPC status that speaks against the server.</summary>
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

    /// <summary>Not sent by the mesh's own decision or failure (breaker open, no endpoint at all, no certificate of its own).</summary>
    Rejected,
}

/// <summary>Names of failure kinds as metrics and spans carry them.</summary>
internal static class FailureKinds
{
    /// <summary>The <c>mesh.outcome</c> of an attempt that ended so.</summary>
    public static string TagName(this FailureKind kind) => kind switch
    {
        FailureKind.None => "success",
        FailureKind.ServerError => "server_error",
        FailureKind.ConnectFailure => "connect_failure",
        FailureKind.RefusedStream => "refused_stream",
        FailureKind.AttemptTimeout => "timeout",
        FailureKind.Canceled => "canceled",
        _ => "error",
    };
}
