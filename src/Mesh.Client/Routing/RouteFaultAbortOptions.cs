namespace Mesh.Routing;

/// <summary>An answer a route gives, without sending, in place of a share of its attempts.</summary>
public sealed class RouteFaultAbortOptions
{
    /// <summary>Gets or sets the share of attempts aborted, in percent.</summary>
    /// <value>0 by default; from 0 to 100, decimals allowed.</value>
    public double Percent { get; set; }

    /// <summary>Gets or sets the HTTP status of the answer, with an empty body. Set this or <see cref="GrpcStatus"/>, not both.</summary>
    /// <value><see langword="null"/> by default; from 200 to 599.</value>
    public int? HttpStatus { get; set; }

    /// <summary>
    /// Gets or sets the gRPC status of the answer, for gRPC calls: a trailers-only answer (HTTP 200 with <c>grpc-status</c>)
    /// that the gRPC client turns into an <c>RpcException</c> with this status. Set this or <see cref="HttpStatus"/>, not both.
    /// </summary>
    /// <value><see langword="null"/> by default; from 1 (CANCELLED) to 16 (UNAUTHENTICATED).</value>
    public int? GrpcStatus { get; set; }
}
