namespace Mesh.ControlPlane.Contract;

/// <summary>
/// The body of <c>POST /v1/identity/authorities</c> (admin): adds a signing authority to the trust bundle, generated
/// (no field set) or supplied (an intermediate of the operator's PKI, with its key and chain). It signs nothing until
/// activated.
/// </summary>
/// <param name="CertificatePem">The authority's certificate, PEM; absent to generate a new root.</param>
/// <param name="KeyPem">Its private key, PEM.</param>
/// <param name="ChainPem">The certificates from it up to its root, PEM.</param>
internal sealed record AuthorityRequest(string? CertificatePem = null, string? KeyPem = null, string? ChainPem = null);
