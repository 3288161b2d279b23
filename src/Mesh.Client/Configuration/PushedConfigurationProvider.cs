using Microsoft.Extensions.Configuration;

namespace Mesh.Configuration;

/// <summary>
/// Configuration keys pushed from outside the application (<c>Mesh:Services:{name}:…</c> from the control plane's last
/// good snapshot), read before the application's own configuration so that local settings override them key by key.
/// </summary>
internal sealed class PushedConfigurationProvider : ConfigurationProvider, IConfigurationSource
{
    /// <summary>Replaces every key at once and signals the change, so one snapshot is applied as one reload.</summary>
    public void Replace(IDictionary<string, string?> data)
    {
        Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
        OnReload();
    }

    /// <summary>Gets the keys pushed now.</summary>
    public IReadOnlyList<string> Keys()
    {
        // Replace swaps the whole dictionary, so the one read here is never changed while it is copied.
        var data = Data;
        return [.. data.Keys];
    }

    /// <summary>Signals a change without new keys, when only the endpoints of a snapshot changed.</summary>
    public void Touch() => OnReload();

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;
}
