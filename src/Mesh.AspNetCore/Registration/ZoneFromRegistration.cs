using Mesh.Configuration;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Registration;

/// <summary>
/// Gives the process's outbound balancing the zone it registers in: when <c>Mesh:Zone</c> is not set, the zone of
/// <see cref="MeshServerOptions.Zone"/> (<c>Mesh:Server:Zone</c>, the one meshd's registry holds for this instance) is the
/// caller's zone. The server's options are configured afresh (without their validation, which itself reads the mesh's
/// options) at every rebuild of the mesh's options, so a reload of either takes effect with the rest; a zone that is not
/// valid gives no zone here, and the server options' validation names it at start.
/// </summary>
internal sealed class ZoneFromRegistration(IEnumerable<IConfigureOptions<MeshServerOptions>> configure) : IPostConfigureOptions<MeshOptions>
{
    public void PostConfigure(string? name, MeshOptions options)
    {
        if (options.Zone is not null)
        {
            return;
        }

        var server = new MeshServerOptions();
        foreach (var step in configure)
        {
            if (step is IConfigureNamedOptions<MeshServerOptions> named)
            {
                named.Configure(Options.DefaultName, server);
            }
            else
            {
                step.Configure(server);
            }
        }

        if (server.Zone is { } zone && MeshOptionsValidator.ZoneProblem(zone) is null)
        {
            options.Zone = zone;
        }
    }
}
