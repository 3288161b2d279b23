using Mesh.AspNetCore.Deadlines;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds inbound deadlines to an ASP.NET Core pipeline.</summary>
public static class MeshDeadlineApplicationBuilderExtensions
{
    /// <summary>
    /// Bounds the meshed calls made while serving a request by the request's deadline: the sooner of its endpoint's
    /// request timeout (<c>[RequestTimeout]</c>, <c>WithRequestTimeout</c> or the default policy) and the time the
    /// calling service had left (the <c>mesh-timeout</c> header meshed clients send), and for an inbound gRPC call its
    /// <c>grpc-timeout</c>. Place it after routing, where the
    /// endpoint is known; in a <c>WebApplication</c>, anywhere after <c>Build()</c>.
    /// </summary>
    /// <param name="app">The application builder.</param>
    /// <returns>The same builder.</returns>
    public static IApplicationBuilder UseMeshDeadlines(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.UseMiddleware<MeshDeadlineMiddleware>();
    }
}
