using Microsoft.Extensions.Configuration;

namespace Mesh.ControlPlane;

/// <summary>
/// The policies of the control plane's last good snapshot as configuration keys (<c>Mesh:Services:{name}:…</c>), read
/// before the application's own configuration so that local settings override them field by field.
/// </summary>
internal sealed class ControlPlaneConfigurationProvider : ConfigurationProvider, IConfigurationSource
{
    /// <summary>Replaces every key at once and signals the change, so one snapshot is applied as one reload.</summary>
    public void Replace(IDictionary<string, string?> data)
    {
        Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
        OnReload();
    }

    /// <summary>Signals a change without new keys, when only the instances of a snapshot changed.</summary>
    public void Touch() => OnReload();

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;
}
