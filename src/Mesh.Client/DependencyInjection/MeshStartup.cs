using Mesh.Pipeline;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.DependencyInjection;

/// <summary>
/// Starts the mesh with the host: builds the service catalog, so invalid mesh configuration stops start-up, then
/// starts watching the control plane and waits for its first snapshot (at most <c>StartupWait</c>), so the first
/// request already routes by it, then gets the workload's certificate when it has an identity (cached, or from meshd, or
/// from files).
/// </summary>
internal sealed class MeshStartup(IServiceProvider services) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<ServiceCatalog>();
        await services.GetRequiredService<MeshReadiness>().StartAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
