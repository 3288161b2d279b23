using Microsoft.Extensions.Configuration;

namespace Mesh.Testing;

/// <summary>
/// An in-memory configuration whose content a test replaces and then reloads, as a file provider would on change.
/// </summary>
public sealed class ReloadableConfiguration : ConfigurationProvider, IConfigurationSource
{
    /// <summary>Initializes a new configuration holding <paramref name="values"/>.</summary>
    public ReloadableConfiguration(IEnumerable<KeyValuePair<string, string?>> values)
    {
        Replace(values, reload: false);
    }

    /// <summary>Replaces the whole content and raises the change, as a reload does.</summary>
    public void Replace(IEnumerable<KeyValuePair<string, string?>> values, bool reload = true)
    {
        Data = new Dictionary<string, string?>(values, StringComparer.OrdinalIgnoreCase);
        if (reload)
        {
            OnReload();
        }
    }

    /// <inheritdoc />
    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;
}
