using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.Configuration;

/// <summary>
/// Binds the <c>Mesh</c> configuration section (control-plane keys under the application's own), refusing unknown keys.
/// A binding error is kept on the options for validation to report instead of thrown, so a bad reload can be refused
/// while the last good options stay.
/// </summary>
internal sealed class MeshConfigurationBinder : IConfigureOptions<MeshOptions>
{
    /// <summary>Keys of the <c>Mesh</c> section that belong to other packages: <c>Mesh:Server</c> is read by Mesh.AspNetCore.</summary>
    internal static readonly string[] ForeignKeys = ["Server"];

    private static readonly Action<BinderOptions> s_strict = o => o.ErrorOnUnknownConfiguration = true;

    private readonly IConfiguration? _configuration;

    /// <summary>Binds <paramref name="configuration"/> alone, as the control plane does to validate a policy.</summary>
    public MeshConfigurationBinder(IConfiguration? configuration = null)
    {
        _configuration = configuration;
    }

    /// <summary>Binds the control plane's keys under the application's configuration.</summary>
    public MeshConfigurationBinder(MeshConfigurationRoot root)
    {
        _configuration = root.Configuration;
    }

    public void Configure(MeshOptions options)
    {
        if (_configuration is not null)
        {
            Bind(_configuration, options);
        }
    }

    /// <summary>Binds the <c>Mesh</c> section of <paramref name="configuration"/> into <paramref name="options"/>.</summary>
    public static void Bind(IConfiguration configuration, MeshOptions options)
    {
        var section = new SectionWithout(configuration.GetSection(MeshOptionsValidator.Section), ForeignKeys);
        UnknownKeys.Find(section, typeof(MeshOptions), MeshOptionsValidator.Section, options.UnknownKeys);
        if (options.UnknownKeys.Count > 0)
        {
            return;
        }

        try
        {
            section.Bind(options, s_strict);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's innermost InvalidOperationException is the one that names the key and the value.
            var message = ex.Message;
            for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
            {
                if (inner is InvalidOperationException)
                {
                    message = inner.Message;
                }
            }

            options.BindingError = message;
        }
    }

    /// <summary>A section whose listed children are invisible to the binder, so its unknown-key check skips them.</summary>
    private sealed class SectionWithout(IConfigurationSection inner, string[] hidden) : IConfiguration
    {
        public string? this[string key]
        {
            get => inner[key];
            set => inner[key] = value;
        }

        public IEnumerable<IConfigurationSection> GetChildren() =>
            inner.GetChildren().Where(c => !hidden.Contains(c.Key, StringComparer.OrdinalIgnoreCase));

        public IChangeToken GetReloadToken() => inner.GetReloadToken();

        public IConfigurationSection GetSection(string key) => inner.GetSection(key);
    }
}
