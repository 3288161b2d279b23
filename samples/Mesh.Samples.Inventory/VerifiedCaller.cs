using Grpc.Core;
using Grpc.Core.Interceptors;
using Mesh.AspNetCore.Identity;
using Mesh.Grpc.Inventory;

namespace Mesh.Samples.Inventory;

/// <summary>
/// Puts into every item answered the caller this instance verified over the mesh's mutual TLS (its SPIFFE ID), so the
/// caller can see who it was taken for; empty when no identity was proved. Read from the connection's certificate, never a header.
/// </summary>
internal sealed class VerifiedCaller : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var response = await continuation(request, context);
        if (response is Item item && context.GetHttpContext().Features.Get<IMeshCallerFeature>() is { } caller)
        {
            item.Caller = caller.Id.ToString();
        }

        return response;
    }
}
