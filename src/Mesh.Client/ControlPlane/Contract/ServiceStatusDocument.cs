using System.Text.Json.Serialization;

namespace Mesh.ControlPlane.Contract;

/// <summary>Every service meshd knows, from its registry or its policies: the answer of <c>GET /v1/services</c>.</summary>
/// <param name="Services">The services, ordered by name.</param>
internal sealed record ServiceListDocument(IReadOnlyList<ServiceStatusDocument> Services);

/// <summary>One service as meshd knows it now: the answer of <c>GET /v1/services/{name}</c>.</summary>
/// <param name="Name">The service's name, as meshd stores it (lower case).</param>
/// <param name="PolicyVersion">The version of the service's policy; <see langword="null"/> when it has none.</param>
/// <param name="Instances">The registered instances, ordered by instance id; empty when none is registered.</param>
internal sealed record ServiceStatusDocument(
    string Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] long? PolicyVersion,
    IReadOnlyList<InstanceStatusDocument> Instances);

/// <summary>One registered instance with its lease.</summary>
/// <param name="InstanceId">The instance's id, unique within its service.</param>
/// <param name="Address">The address callers send requests to: scheme, host and port.</param>
/// <param name="LeaseExpiresAt">When the instance is removed unless its lease is renewed before.</param>
/// <param name="Zone">The zone the instance runs in, when known.</param>
/// <param name="Labels">The instance's labels, such as <c>version=v2</c>.</param>
/// <param name="Weight">The instance's share of traffic relative to the others of its service; 0 drains it.</param>
/// <param name="Identity">The SPIFFE ID the instance presents over mutual TLS; <see langword="null"/> without mesh identity.</param>
internal sealed record InstanceStatusDocument(
    string InstanceId,
    string Address,
    DateTimeOffset LeaseExpiresAt,
    string? Zone = null,
    IReadOnlyDictionary<string, string>? Labels = null,
    int Weight = 1,
    string? Identity = null);
