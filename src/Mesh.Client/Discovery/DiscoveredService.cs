namespace Mesh.Discovery;

/// <summary>One service of the mesh as discovery found it: its options and its endpoints, from one source.</summary>
/// <param name="Name">The logical name of the service.</param>
/// <param name="Options">Its options: as configured, or the defaults for a service only a source names.</param>
/// <param name="Endpoints">Its endpoints, possibly none.</param>
/// <param name="Source">The name of the source the endpoints came from.</param>
/// <param name="Unreachable">Why none of the endpoints the source named may be called, when that is so (its mutual TLS mode refuses them all).</param>
internal sealed record DiscoveredService(string Name, MeshServiceOptions Options, IReadOnlyList<MeshEndpoint> Endpoints, string Source, string? Unreachable = null);
