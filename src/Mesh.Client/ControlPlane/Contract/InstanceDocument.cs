namespace Mesh.ControlPlane.Contract;

/// <summary>One registered instance of a service, as meshd stores it and serves it in a snapshot.</summary>
/// <param name="InstanceId">The instance's id, unique within its service.</param>
/// <param name="Address">The address callers send requests to: scheme, host and port.</param>
/// <param name="Zone">The zone the instance runs in, when known.</param>
/// <param name="Labels">The instance's labels, such as <c>version=v2</c>.</param>
/// <param name="Weight">The instance's share of traffic relative to the others of its service; 0 drains it.</param>
/// <param name="Identity">
/// The SPIFFE ID the instance presents over mutual TLS (<c>spiffe://{trust domain}/svc/{service}</c>); its address is
/// then <c>https</c>. <see langword="null"/> when the instance serves without mesh identity.
/// </param>
internal sealed record InstanceDocument(string InstanceId, string Address, string? Zone = null, IReadOnlyDictionary<string, string>? Labels = null, int Weight = 1, string? Identity = null);
