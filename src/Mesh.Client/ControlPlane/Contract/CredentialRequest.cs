namespace Mesh.ControlPlane.Contract;

/// <summary>The body of <c>POST /v1/credentials</c> (admin): a new workload credential bound to one service.</summary>
/// <param name="Service">The service the credential may register, renew, deregister and get certificates for.</param>
internal sealed record CredentialRequest(string Service);
