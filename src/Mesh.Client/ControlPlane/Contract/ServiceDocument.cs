using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mesh.ControlPlane.Contract;

/// <summary>One service in a <see cref="SnapshotDocument"/>.</summary>
internal sealed record ServiceDocument
{
    /// <summary>Gets the version of the service's policy; 0 when it has none.</summary>
    [JsonPropertyName("policyVersion")]
    public long PolicyVersion { get; init; }

    /// <summary>Gets the policy: the schema of <c>Mesh:Services:{name}</c> without <c>Endpoints</c>; an empty object when none.</summary>
    [JsonPropertyName("policy")]
    public JsonElement? Policy { get; init; }

    /// <summary>Gets the registered instances, ordered by instance id.</summary>
    [JsonPropertyName("instances")]
    public IReadOnlyList<InstanceDocument> Instances { get; init; } = [];
}
