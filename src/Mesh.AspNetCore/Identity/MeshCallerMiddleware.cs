using Microsoft.AspNetCore.Http;

namespace Mesh.AspNetCore.Identity;

/// <summary>
/// Makes the caller a request's connection proved by mutual TLS the request's identity: the <see cref="IMeshCallerFeature"/>
/// and <c>HttpContext.User</c>. Headers are never read for it.
/// </summary>
internal sealed class MeshCallerMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        // Connection features reach every request of the connection, HTTP/2 streams included.
        if (context.Features.Get<MeshConnection>() is { Caller: { } caller })
        {
            context.Features.Set<IMeshCallerFeature>(caller);
            context.User = caller.ToPrincipal();
        }

        return next(context);
    }
}
