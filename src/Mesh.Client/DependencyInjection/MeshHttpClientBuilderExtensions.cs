using Mesh.Pipeline;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the mesh to an <see cref="HttpClient"/> built by <c>IHttpClientFactory</c>.</summary>
public static class MeshHttpClientBuilderExtensions
{
    /// <summary>
    /// Sends the client's requests through the mesh: a request to <c>http://{service}/…</c>, where <c>{service}</c>
    /// is a configured service name, goes to one of that service's endpoints, chosen by its load balancer. Requests
    /// to other hosts pass through unchanged. Works on typed and named clients and in
    /// <c>ConfigureHttpClientDefaults</c>; calls <c>AddMesh()</c> on the service collection if it was not called.
    /// </summary>
    /// <param name="builder">The client builder.</param>
    /// <returns>The same builder.</returns>
    public static IHttpClientBuilder AddMesh(this IHttpClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddMesh();
        builder.ConfigureAdditionalHttpMessageHandlers(MeshPipeline.AddHandlers);
        return builder;
    }
}
