namespace Mesh.Authorization;

/// <summary>The mesh-wide authorization settings, bound from <c>Mesh:Authorization</c>; a service's own settings override them.</summary>
public sealed class MeshAuthorizationOptions
{
    /// <summary>Gets or sets what a service without <c>Allow</c> rules and without a default of its own lets in (see <see cref="AuthorizationDefaultNames"/>).</summary>
    /// <value><c>allow</c> by default; <c>allow</c>, <c>authenticated</c> or <c>deny</c>, case-insensitive.</value>
    public string Default { get; set; } = AuthorizationDefaultNames.Allow;
}
