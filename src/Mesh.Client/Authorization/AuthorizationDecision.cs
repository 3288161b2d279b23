namespace Mesh.Authorization;

/// <summary>What <see cref="AuthorizationPolicy"/> decided for one request, and which rule decided it.</summary>
/// <param name="IsAllowed">Whether the request may reach the application.</param>
/// <param name="Rule">
/// The name of the rule that decided; <see cref="NoMatch"/> when the service has <c>Allow</c> rules and none matched; or the
/// default that applied (<see cref="DefaultAllow"/>, <see cref="DefaultAuthenticated"/>, <see cref="DefaultDeny"/>). Rule names
/// cannot hold parentheses, so the four never collide with one.
/// </param>
internal readonly record struct AuthorizationDecision(bool IsAllowed, string Rule)
{
    public const string NoMatch = "(no-match)";
    public const string DefaultAllow = "(default:allow)";
    public const string DefaultAuthenticated = "(default:authenticated)";
    public const string DefaultDeny = "(default:deny)";

    /// <summary>Gets the decision as metrics and logs show it: <c>allow</c> or <c>deny</c>.</summary>
    public string Name => IsAllowed ? "allow" : "deny";
}
