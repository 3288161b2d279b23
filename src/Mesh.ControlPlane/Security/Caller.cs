namespace Meshd.Security;

/// <summary>
/// Who sent a request, as its bearer token says: the admin, the shared workload token (any service, deprecated), or a
/// workload credential bound to one service. Set on the request by <see cref="TokenFilter"/>.
/// </summary>
/// <param name="Role">The role of the token.</param>
/// <param name="Service">The one service a credential is bound to; null for the admin and the shared workload token.</param>
/// <param name="CredentialId">The credential's id (never its token); null for the admin and the shared workload token.</param>
internal sealed record Caller(TokenRole Role, string? Service, string? CredentialId)
{
    public static readonly Caller Admin = new(TokenRole.Admin, null, null);

    public static readonly Caller SharedWorkload = new(TokenRole.Workload, null, null);

    public static readonly Caller Reader = new(TokenRole.Reader, null, null);

    /// <summary>Whether the caller may act for <paramref name="service"/> (its canonical, lower-case name).</summary>
    public bool MayActFor(string service) => Service is null || string.Equals(Service, service, StringComparison.Ordinal);

    /// <summary>Describes the caller for a log line or a problem, without any secret.</summary>
    public override string ToString() => CredentialId is not null
        ? $"credential {CredentialId} of service '{Service}'"
        : Role switch
        {
            TokenRole.Admin => "the admin token",
            TokenRole.Reader => "the read-only token",
            _ => "the shared workload token",
        };
}
