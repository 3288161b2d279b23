using System.Text.Json;

namespace Mesh.ControlPlane.Contract;

/// <summary>One service in a <see cref="SnapshotDocument"/>.</summary>
/// <param name="PolicyVersion">The version of the service's policy; 0 when it has none.</param>
/// <param name="Policy">The policy: the schema of <c>Mesh:Services:{name}</c> without <c>Endpoints</c>; an empty object when none.</param>
/// <param name="Instances">The registered instances, ordered by instance id; none when absent.</param>
internal sealed record ServiceDocument(long PolicyVersion = 0, JsonElement? Policy = null, IReadOnlyList<InstanceDocument>? Instances = null);
