using Mesh;
using Mesh.Configuration;
using Mesh.ControlPlane;
using Mesh.DependencyInjection;
using Mesh.Discovery;
using Mesh.Discovery.Consul;
using Mesh.Discovery.Dns;
using Mesh.Discovery.Etcd;
using Mesh.Discovery.Kubernetes;
using Mesh.Identity;
using Mesh.Pipeline;
using Mesh.Telemetry;
using Mesh.Utilities;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the mesh in a service collection.</summary>
public static class MeshServiceCollectionExtensions
{
    /// <summary>
    /// Adds the mesh, configured from the <c>Mesh</c> section of the application's configuration. Invalid
    /// configuration stops the host from starting; an invalid change later is refused and logged, and the last
    /// good configuration stays in force. Every registration can be replaced.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder for further mesh configuration.</returns>
    public static IMeshBuilder AddMesh(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);

        services.AddOptions();
        services.AddLogging();
        services.AddMetrics();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<MeshOptions>, MeshConfigurationBinder>(static sp => new MeshConfigurationBinder(sp.GetRequiredService<MeshConfigurationRoot>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOptionsChangeTokenSource<MeshOptions>, MeshConfigurationChangeTokenSource>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointSource, ConfigurationEndpointSource>());

        // After static configuration: a service's local endpoints win over its registered instances.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointSource, ControlPlaneEndpointSource>());

        // The sources a service selects by name (Discovery:Source); each is asked only for the services that select it.
        services.TryAddSingleton<DiscoveryMetrics>();
        services.TryAddSingleton<DnsEndpointSource>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointSource, DnsEndpointSource>(static sp => sp.GetRequiredService<DnsEndpointSource>()));
        services.TryAddSingleton<EtcdEndpointSource>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointSource, EtcdEndpointSource>(static sp => sp.GetRequiredService<EtcdEndpointSource>()));
        services.TryAddSingleton<ConsulEndpointSource>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointSource, ConsulEndpointSource>(static sp => sp.GetRequiredService<ConsulEndpointSource>()));
        services.TryAddSingleton<KubernetesEndpointSource>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEndpointSource, KubernetesEndpointSource>(static sp => sp.GetRequiredService<KubernetesEndpointSource>()));
        services.TryAddSingleton<PushedConfigurationProvider>();
        services.TryAddSingleton<MeshConfigurationRoot>();
        services.TryAddSingleton(static sp => new MeshdClient(
            sp.GetRequiredService<IOptionsFactory<MeshOptions>>().Create(Options.Options.DefaultName).ControlPlane,
            sp.GetRequiredService<MeshRandom>(),
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<ControlPlaneWatcher>();
        services.TryAddSingleton<IdentityMetrics>();
        services.TryAddSingleton(static sp => new WorkloadCertificate(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<WorkloadCertificate>>(), sp.GetRequiredService<IdentityMetrics>()));
        services.TryAddSingleton<X509SvidValidator>();
        services.TryAddSingleton<EndpointIdentities>();
        services.TryAddSingleton<MeshTlsConnector>();
        services.TryAddSingleton<MeshdIdentitySource>();
        services.TryAddSingleton(static sp => new FileIdentitySource(
            sp.GetRequiredService<IOptionsFactory<MeshOptions>>().Create(Options.Options.DefaultName).Identity,
            sp.GetRequiredService<WorkloadCertificate>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<FileIdentitySource>>(),
            sp.GetRequiredService<IdentityMetrics>()));
        services.TryAddSingleton(static sp => IdentitySource(sp));
        services.TryAddSingleton<ControlPlaneMetrics>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MeshStartup>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(MeshRandom.Shared);
        services.TryAddSingleton<MeshOptionsValidator>();
        services.TryAddSingleton<MeshMetrics>();
        services.TryAddSingleton<MeshStats>();
        services.TryAddSingleton<CallTelemetry>();
        services.TryAddSingleton<ServiceCatalog>();
        services.TryAddSingleton<MeshReadiness>();
        return new MeshBuilder(services);
    }

    // The source named by Mesh:Identity:Source, read once at start; invalid settings are the catalog's to report.
    private static IWorkloadIdentitySource IdentitySource(IServiceProvider services)
    {
        var identity = services.GetRequiredService<IOptionsFactory<MeshOptions>>().Create(Options.Options.DefaultName).Identity;
        return identity.Source?.ToUpperInvariant() switch
        {
            "MESHD" => services.GetRequiredService<MeshdIdentitySource>(),
            "FILES" when identity.CertificatePath is not null && identity.KeyPath is not null && identity.BundlePath is not null => services.GetRequiredService<FileIdentitySource>(),
            _ => NoWorkloadIdentity.Instance,
        };
    }

    /// <summary>
    /// Adds the mesh, configured from the <c>Mesh</c> configuration section and then by <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets options in code; runs after configuration is bound, and again on each reload.</param>
    /// <returns>A builder for further mesh configuration.</returns>
    public static IMeshBuilder AddMesh(this IServiceCollection services, Action<MeshOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var builder = services.AddMesh();
        services.Configure(configure);
        return builder;
    }
}
