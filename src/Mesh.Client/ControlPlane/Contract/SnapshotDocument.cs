namespace Mesh.ControlPlane.Contract;

/// <summary>
/// One version of the mesh as meshd serves it at <c>GET /v1/snapshot</c>: every service with its policy and its
/// registered instances. meshd writes it and clients read it through this one type.
/// </summary>
/// <param name="Version">The snapshot's version: the store revision of the last change in it; it never goes back.</param>
/// <param name="Services">The services by name: those with a policy, registered instances, or both.</param>
/// <param name="TrustBundle">The roots a workload trusts for mesh identities, when meshd runs its certificate authority.</param>
internal sealed record SnapshotDocument(long Version, IReadOnlyDictionary<string, ServiceDocument> Services, TrustBundleDocument? TrustBundle = null);
