namespace Mesh.ControlPlane.Contract;

/// <summary>The body of <c>PUT /v1/services/{service}/instances/{instanceId}</c>: an instance registering itself.</summary>
/// <param name="Address">The address other services reach the instance at: scheme, host and port.</param>
/// <param name="Zone">The zone the instance runs in, when known.</param>
/// <param name="Labels">The instance's labels.</param>
/// <param name="Weight">The instance's weight, from 0 to 10 000; 1 when absent.</param>
/// <param name="Identity">The SPIFFE ID the instance presents over mutual TLS, when it does: the one of its own service.</param>
internal sealed record RegistrationRequest(string Address, string? Zone = null, IReadOnlyDictionary<string, string>? Labels = null, int? Weight = null, string? Identity = null);
