using Microsoft.Extensions.DependencyInjection;

namespace Mesh.DependencyInjection;

internal sealed class MeshBuilder(IServiceCollection services) : IMeshBuilder
{
    public IServiceCollection Services { get; } = services;
}
