using Microsoft.Extensions.Configuration;

namespace Mesh.Configuration;

/// <summary>
/// The configuration the mesh binds: the pushed keys (the control plane's) first, then the application's configuration,
/// so a key set locally overrides the same key from the control plane and a change of either reloads the options.
/// </summary>
internal sealed class MeshConfigurationRoot
{
    public MeshConfigurationRoot(PushedConfigurationProvider pushed, IConfiguration? configuration = null)
    {
        Pushed = pushed;
        Application = configuration;
        Configuration = Compose(pushed, configuration);
    }

    /// <summary>Gets the keys pushed by the control plane.</summary>
    public PushedConfigurationProvider Pushed { get; }

    /// <summary>Gets the application's own configuration, if any.</summary>
    public IConfiguration? Application { get; }

    /// <summary>Gets both, the application's configuration winning.</summary>
    public IConfiguration Configuration { get; }

    /// <summary>Layers pushed keys under the application's configuration.</summary>
    public static ConfigurationRoot Compose(IConfigurationProvider pushed, IConfiguration? configuration)
    {
        var providers = new List<IConfigurationProvider> { pushed };
        if (configuration is not null)
        {
            providers.Add(new ChainedConfigurationProvider(new ChainedConfigurationSource { Configuration = configuration, ShouldDisposeConfiguration = false }));
        }

        return new ConfigurationRoot(providers);
    }
}
