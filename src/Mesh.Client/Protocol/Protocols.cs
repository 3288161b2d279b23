namespace Mesh.Protocol;

/// <summary>The two protocols, and the choice between them.</summary>
internal static class Protocols
{
    /// <summary>Gets plain HTTP.</summary>
    public static IProtocol Http { get; } = new HttpProtocol();

    /// <summary>Gets gRPC over HTTP/2.</summary>
    public static IProtocol Grpc { get; } = new GrpcProtocol();

    /// <summary>The protocol of a request: gRPC when its content type is <c>application/grpc</c>, otherwise HTTP.</summary>
    public static IProtocol Of(HttpRequestMessage request) => GrpcProtocol.IsGrpc(request) ? Grpc : Http;
}
