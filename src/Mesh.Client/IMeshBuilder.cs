using Microsoft.Extensions.DependencyInjection;

namespace Mesh;

/// <summary>Returned by <c>AddMesh()</c>, so the mesh's features can be configured further.</summary>
public interface IMeshBuilder
{
    /// <summary>Gets the service collection the mesh is registered in.</summary>
    IServiceCollection Services { get; }
}
