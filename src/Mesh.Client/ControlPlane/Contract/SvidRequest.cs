namespace Mesh.ControlPlane.Contract;

/// <summary>
/// The body of <c>POST /v1/services/{service}/svid</c>: a workload of that service asks for its X.509-SVID. meshd takes
/// only the public key from the CSR; the identity comes from the service the caller's credential is bound to.
/// </summary>
/// <param name="Csr">A PKCS#10 certificate signing request, PEM.</param>
/// <param name="Ttl">The lifetime wished for; meshd's default (24 h) when absent, never more than its maximum.</param>
internal sealed record SvidRequest(string Csr, TimeSpan? Ttl = null);
