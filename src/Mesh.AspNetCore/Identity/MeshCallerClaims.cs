namespace Mesh.AspNetCore.Identity;

/// <summary>
/// The names in the <see cref="System.Security.Claims.ClaimsPrincipal"/> the mesh sets as <c>HttpContext.User</c> for a
/// caller verified by mutual TLS: one identity of authentication type <see cref="AuthenticationType"/>, whose name is the
/// caller's SPIFFE ID.
/// </summary>
public static class MeshCallerClaims
{
    /// <summary>The authentication type of the identity: <c>mesh-mtls</c>.</summary>
    public const string AuthenticationType = "mesh-mtls";

    /// <summary>The claim holding the caller's SPIFFE ID, such as <c>spiffe://mesh.local/svc/orders</c>; also the identity's name claim.</summary>
    public const string SpiffeId = "spiffe_id";

    /// <summary>The claim holding the caller's service name, such as <c>orders</c>; absent when the SPIFFE ID is not of the form <c>spiffe://{trust domain}/svc/{service}</c>.</summary>
    public const string Service = "mesh_service";
}
