using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;

namespace Mesh.AspNetCore.Identity;

/// <summary>
/// Once the server listens, checks that the mesh serves its TLS on every address the server serves in plaintext, so a
/// workload with an identity never serves plaintext the mode did not allow (another server than Kestrel, an endpoint made
/// some way the mesh did not see): start-up fails instead.
/// </summary>
internal sealed class MeshTlsStartupCheck(ServerIdentity identity, IServer server, MeshTlsEndpoints endpoints) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        if (!identity.IsEnabled || server.Features.Get<IServerAddressesFeature>() is not { } addresses)
        {
            return Task.CompletedTask;
        }

        var bare = addresses.Addresses.Where(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !endpoints.IsMeshed(a)).ToList();
        if (bare.Count > 0)
        {
            throw new InvalidOperationException(
                $"Mesh:Identity is set, but the server serves {string.Join(", ", bare)} without the mesh's TLS. The mesh puts its mutual TLS on Kestrel's plaintext endpoints only; the server does not start rather than serve plaintext.");
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
