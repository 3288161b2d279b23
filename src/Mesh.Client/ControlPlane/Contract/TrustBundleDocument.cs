namespace Mesh.ControlPlane.Contract;

/// <summary>
/// The roots of the mesh's trust domain (<c>GET /v1/identity/bundle</c>, and in every snapshot): every root a workload
/// must trust, several during a root rotation.
/// </summary>
/// <param name="TrustDomain">The trust domain, such as <c>mesh.local</c>.</param>
/// <param name="RootsPem">The root certificates, PEM, one after the other.</param>
internal sealed record TrustBundleDocument(string TrustDomain, string RootsPem);
