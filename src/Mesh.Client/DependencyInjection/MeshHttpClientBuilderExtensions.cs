using System.Diagnostics;
using Mesh;
using Mesh.Identity;
using Mesh.Pipeline;
using Mesh.Telemetry;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the mesh to an <see cref="HttpClient"/> built by <c>IHttpClientFactory</c>.</summary>
public static class MeshHttpClientBuilderExtensions
{
    // The switch Grpc.Net.Client reads on a SocketsHttpHandler to leave balancing to someone else.
    private const string GrpcLoadBalancingDisabled = "__GrpcLoadBalancingDisabled";

    /// <summary>
    /// Sends the client's requests through the mesh: a request to <c>http://{service}/…</c>, where <c>{service}</c>
    /// is a configured service name, goes to one of that service's endpoints, chosen by its load balancer. Requests
    /// to other hosts pass through unchanged. Works on typed and named clients and in
    /// <c>ConfigureHttpClientDefaults</c>; calls <c>AddMesh()</c> on the service collection if it was not called.
    /// The mesh owns timeouts, so <see cref="HttpClient.Timeout"/> is set to infinite: a service's calls are bounded by
    /// its <c>Timeout</c>, and requests to other hosts by 100 seconds, HttpClient's own default. On a gRPC client
    /// (<c>AddGrpcClient&lt;T&gt;().AddMesh()</c>) the channel's own load balancing is switched off: each call is balanced
    /// by the mesh.
    /// </summary>
    /// <param name="builder">The client builder.</param>
    /// <returns>The same builder.</returns>
    public static IHttpClientBuilder AddMesh(this IHttpClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddMesh();

        // The mesh owns timeouts: per service, and HttpClient's usual 100 s for hosts outside the mesh.
        builder.ConfigureHttpClient(static client => client.Timeout = Timeout.InfiniteTimeSpan);
        builder.ConfigureAdditionalHttpMessageHandlers(MeshPipeline.AddHandlers);

        builder.ConfigurePrimaryHttpMessageHandler(static (handler, services) =>
        {
            if (handler is SocketsHttpHandler sockets)
            {
                // A gRPC channel balances on its own over a SocketsHttpHandler; the mesh balances, so the channel must not.
                sockets.Properties[GrpcLoadBalancingDisabled] = true;

                // Attempts carry W3C Trace Context by its rules (unless the app chose its own propagator for this handler).
                if (sockets.ActivityHeadersPropagator is { } propagator && ReferenceEquals(propagator, DistributedContextPropagator.Current))
                {
                    sockets.ActivityHeadersPropagator = TraceContextPropagator.Over(propagator);
                }

                // With a workload identity, connections to mesh endpoints carry mutual TLS (unless the app opens its own).
                if (sockets.ConnectCallback is null && services.GetRequiredService<IOptionsFactory<MeshOptions>>().Create(Options.Options.DefaultName).Identity.IsEnabled)
                {
                    sockets.ConnectCallback = services.GetRequiredService<MeshTlsConnector>().ConnectAsync;
                }
            }
        });
        return builder;
    }
}
