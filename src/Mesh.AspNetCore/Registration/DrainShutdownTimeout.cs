using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Registration;

/// <summary>Gives a graceful shutdown room for the drain: the host's shutdown timeout is at least the drain time plus 10 seconds.</summary>
internal sealed class DrainShutdownTimeout(IOptions<MeshServerOptions> server) : IPostConfigureOptions<HostOptions>
{
    internal static readonly TimeSpan Margin = TimeSpan.FromSeconds(10);

    public void PostConfigure(string? name, HostOptions options)
    {
        var needed = server.Value.DrainTime + Margin;
        if (options.ShutdownTimeout != Timeout.InfiniteTimeSpan && options.ShutdownTimeout < needed)
        {
            options.ShutdownTimeout = needed;
        }
    }
}
