namespace Mesh.ControlPlane.Contract;

/// <summary>One registered instance of a service, as meshd stores it and serves it in a snapshot.</summary>
/// <param name="InstanceId">The instance's id, unique within its service.</param>
/// <param name="Address">The address callers send requests to: scheme, host and port.</param>
/// <param name="Zone">The zone the instance runs in, when known.</param>
/// <param name="Labels">The instance's labels, such as <c>version=v2</c>.</param>
/// <param name="Weight">The instance's share of traffic relative to the others of its service; 0 drains it.</param>
internal sealed record InstanceDocument(string InstanceId, string Address, string? Zone = null, IReadOnlyDictionary<string, string>? Labels = null, int Weight = 1);
