using System.Reflection;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Identity;

/// <summary>
/// Puts the mesh's connection middleware first on every Kestrel endpoint when the workload has an identity: on the
/// endpoints Kestrel makes at bind time (URLs, the default address, the configuration's endpoints) through the endpoint
/// defaults, kept after the application's own defaults, and on the endpoints the application already made in code.
/// </summary>
/// <remarks>
/// Kestrel keeps one endpoint-defaults action and replaces it when set again, and makes code endpoints at once; neither
/// the action nor the list of endpoints is public. Both are reached by name; should a future Kestrel rename them, the
/// server refuses to start rather than serve plaintext where the mesh's TLS was asked for.
/// </remarks>
internal sealed class MeshKestrelSetup(ServerIdentity identity, IServiceProvider services) : IPostConfigureOptions<KestrelServerOptions>
{
    private static readonly PropertyInfo? s_endpointDefaults = typeof(KestrelServerOptions).GetProperty("EndpointDefaults", BindingFlags.Instance | BindingFlags.NonPublic);
    private static readonly PropertyInfo? s_codeEndpoints = typeof(KestrelServerOptions).GetProperty("CodeBackedListenOptions", BindingFlags.Instance | BindingFlags.NonPublic);
    private static readonly PropertyInfo? s_configurationEndpoints = typeof(KestrelServerOptions).GetProperty("ConfigurationBackedListenOptions", BindingFlags.Instance | BindingFlags.NonPublic);

    public void PostConfigure(string? name, KestrelServerOptions options)
    {
        if (!identity.IsEnabled)
        {
            return;
        }

        if (s_endpointDefaults?.GetValue(options) is not Action<ListenOptions> defaults
            || s_codeEndpoints?.GetValue(options) is not IEnumerable<ListenOptions> code
            || s_configurationEndpoints?.GetValue(options) is not IEnumerable<ListenOptions> configured)
        {
            throw new InvalidOperationException(
                "Mesh:Identity is set, but this version of Kestrel does not let the mesh put its mutual TLS on its endpoints (KestrelServerOptions' endpoint defaults or endpoint lists not found); the server does not start rather than serve plaintext.");
        }

        var inbound = new Lazy<MeshInbound>(services.GetRequiredService<MeshInbound>);
        var applied = new HashSet<ListenOptions>(ReferenceEqualityComparer.Instance);
        void Apply(ListenOptions listen)
        {
            if (applied.Add(listen))
            {
                // Resolved when Kestrel builds the endpoint's pipeline, after every other configuration of it.
                listen.Use(next => inbound.Value.Wrap(listen, next));
            }
        }

        foreach (var listen in code.Concat(configured).ToList())
        {
            Apply(listen);
        }

        options.ConfigureEndpointDefaults(listen =>
        {
            defaults(listen);
            Apply(listen);
        });
    }
}
