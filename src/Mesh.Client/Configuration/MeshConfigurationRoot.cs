using Mesh.ControlPlane;
using Microsoft.Extensions.Configuration;

namespace Mesh.Configuration;

/// <summary>
/// The configuration the mesh binds: the control plane's keys first, then the application's configuration, so a key set
/// locally overrides the same key from the control plane and a change of either reloads the options.
/// </summary>
internal sealed class MeshConfigurationRoot
{
    public MeshConfigurationRoot(ControlPlaneConfigurationProvider controlPlane, IConfiguration? configuration = null)
    {
        ControlPlane = controlPlane;
        Application = configuration;
        Configuration = Compose(controlPlane, configuration);
    }

    /// <summary>Gets the keys pushed by the control plane.</summary>
    public ControlPlaneConfigurationProvider ControlPlane { get; }

    /// <summary>Gets the application's own configuration, if any.</summary>
    public IConfiguration? Application { get; }

    /// <summary>Gets both, the application's configuration winning.</summary>
    public IConfiguration Configuration { get; }

    /// <summary>Layers control-plane keys under the application's configuration.</summary>
    public static ConfigurationRoot Compose(IConfigurationProvider controlPlane, IConfiguration? configuration)
    {
        var providers = new List<IConfigurationProvider> { controlPlane };
        if (configuration is not null)
        {
            providers.Add(new ChainedConfigurationProvider(new ChainedConfigurationSource { Configuration = configuration, ShouldDisposeConfiguration = false }));
        }

        return new ConfigurationRoot(providers);
    }
}
