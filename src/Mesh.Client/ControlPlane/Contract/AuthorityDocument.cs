namespace Mesh.ControlPlane.Contract;

/// <summary>One signing authority of meshd's CA (<c>GET /v1/identity/authorities</c>, admin).</summary>
/// <param name="Id">Its id: the SHA-256 fingerprint of its certificate, hex.</param>
/// <param name="Subject">Its certificate's subject.</param>
/// <param name="NotBefore">When its certificate becomes valid.</param>
/// <param name="NotAfter">When its certificate expires.</param>
/// <param name="Active">Whether new certificates are signed by it (exactly one authority is active).</param>
/// <param name="Generated">Whether meshd generated it, rather than having it supplied as PEM files.</param>
internal sealed record AuthorityDocument(string Id, string Subject, DateTimeOffset NotBefore, DateTimeOffset NotAfter, bool Active, bool Generated);
