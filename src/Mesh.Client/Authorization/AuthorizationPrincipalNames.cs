namespace Mesh.Authorization;

/// <summary>The entries of <see cref="AuthorizationRuleOptions.From"/> that name no one caller.</summary>
public static class AuthorizationPrincipalNames
{
    /// <summary>Any caller with a verified mesh identity.</summary>
    public const string AnyAuthenticated = "*";

    /// <summary>Callers without a verified mesh identity (plaintext, or TLS without a client certificate).</summary>
    public const string Unauthenticated = "unauthenticated";
}
