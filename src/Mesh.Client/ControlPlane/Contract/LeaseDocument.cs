namespace Mesh.ControlPlane.Contract;

/// <summary>meshd's answer to a registration or a renewal: the instance's lease.</summary>
/// <param name="InstanceId">The instance's id.</param>
/// <param name="Ttl">How long the lease lasts unless renewed.</param>
/// <param name="ExpiresAt">When the lease lapses unless renewed.</param>
internal sealed record LeaseDocument(string InstanceId, TimeSpan Ttl, DateTimeOffset ExpiresAt);
