namespace Mesh.ControlPlane.Contract;

/// <summary>A workload credential bound to one service; its token is only in the answer that created it.</summary>
/// <param name="Id">The credential's id, to list or revoke it by.</param>
/// <param name="Service">The service it is bound to.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="Token">The bearer token, present only when the credential was just created; meshd keeps only its hash.</param>
internal sealed record CredentialDocument(string Id, string Service, DateTimeOffset CreatedAt, string? Token = null);
