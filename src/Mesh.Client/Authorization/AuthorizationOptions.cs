namespace Mesh.Authorization;

/// <summary>
/// Who may call a service, as its own server enforces it: rules that allow or deny callers by identity, method and path,
/// the default when no rule allows, identity-bearing headers and a rate limit per caller. Bound from
/// <c>Mesh:Services:{name}:Authorization</c>; the server reads the section of the service named by <c>Mesh:ServiceName</c>,
/// so meshd can push it per service. Ignored for other services.
/// </summary>
/// <remarks>
/// A request is decided as Istio's AuthorizationPolicy decides: a matching <c>Deny</c> rule denies; otherwise, when the
/// service has <c>Allow</c> rules, a matching one allows and none denies; a service without <c>Allow</c> rules gets
/// <see cref="Default"/>.
/// </remarks>
public sealed class AuthorizationOptions
{
    /// <summary>Gets or sets what a service without <c>Allow</c> rules lets in (see <see cref="AuthorizationDefaultNames"/>).</summary>
    /// <value>
    /// <see langword="null"/> by default: the mesh's <c>Mesh:Authorization:Default</c> applies. <c>allow</c>, <c>authenticated</c>
    /// or <c>deny</c>, case-insensitive.
    /// </value>
    public string? Default { get; set; }

    /// <summary>Gets the rules, each with a unique name that audit lines and metrics report.</summary>
    /// <value>Empty by default; at most 128 rules.</value>
    public IList<AuthorizationRuleOptions> Rules { get; } = new List<AuthorizationRuleOptions>();

    /// <summary>
    /// Gets the callers allowed to send identity-bearing headers (<c>x-forwarded-client-cert</c>, <c>x-ssl-client-*</c> and the
    /// like) to the application; from any other caller they are removed. Entries as in <see cref="AuthorizationRuleOptions.From"/>.
    /// </summary>
    /// <value>Empty by default: such headers never reach the application. At most 64 entries.</value>
    public IList<string> IdentityHeadersFrom { get; } = new List<string>();

    /// <summary>Gets or sets the most requests each caller identity may make of the service; over it, 429 (gRPC <c>RESOURCE_EXHAUSTED</c>).</summary>
    /// <value><see langword="null"/> by default: no limit.</value>
    public CallerRateLimitOptions? RateLimitPerCaller { get; set; }
}
