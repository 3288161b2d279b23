namespace Mesh.Authorization;

/// <summary>One rule of <see cref="AuthorizationOptions.Rules"/>: an action for the requests of some callers to some routes.</summary>
public sealed class AuthorizationRuleOptions
{
    /// <summary>Gets or sets the rule's name, reported by the audit log and the <c>mesh.server.authorization</c> metric.</summary>
    /// <value>Required; 1 to 63 letters, digits, <c>-</c>, <c>_</c> or <c>.</c>, unique within the service (ignoring case).</value>
    public string? Name { get; set; }

    /// <summary>Gets or sets the action: <c>Allow</c> or <c>Deny</c> (see <see cref="AuthorizationActionNames"/>).</summary>
    /// <value>Required; case-insensitive.</value>
    public string? Action { get; set; }

    /// <summary>
    /// Gets the callers the rule applies to, each compared as an exact string, never as a pattern: a service name (<c>orders</c>,
    /// the caller <c>spiffe://{trust domain}/svc/orders</c> of this mesh's trust domain), a whole SPIFFE ID, <c>*</c> (any caller
    /// with a verified mesh identity) or <c>unauthenticated</c> (callers without one). Names are case-sensitive, as SPIFFE
    /// paths are.
    /// </summary>
    /// <value>Required: at least 1, at most 64 entries.</value>
    public IList<string> From { get; } = new List<string>();

    /// <summary>Gets the requests the rule applies to: any of the entries; none means every request.</summary>
    /// <value>Empty by default (every request); at most 32 entries.</value>
    public IList<AuthorizationTargetOptions> To { get; } = new List<AuthorizationTargetOptions>();
}
