using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Mesh.Configuration;

/// <summary>
/// Binds the <c>Mesh</c> configuration section, refusing unknown keys. A binding error is kept on the options for
/// validation to report instead of thrown, so a bad reload can be refused while the last good options stay.
/// </summary>
internal sealed class MeshConfigurationBinder(IConfiguration? configuration = null) : IConfigureOptions<MeshOptions>
{
    private static readonly Action<BinderOptions> s_strict = o => o.ErrorOnUnknownConfiguration = true;

    public void Configure(MeshOptions options)
    {
        if (configuration is null)
        {
            return;
        }

        try
        {
            configuration.GetSection(MeshOptionsValidator.Section).Bind(options, s_strict);
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
}
