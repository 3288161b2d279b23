namespace Mesh.Authorization;

/// <summary>The actions of <see cref="AuthorizationRuleOptions.Action"/>.</summary>
public static class AuthorizationActionNames
{
    /// <summary>The rule lets the requests it matches in, unless a <see cref="Deny"/> rule matches them too.</summary>
    public const string Allow = nameof(Allow);

    /// <summary>The rule refuses the requests it matches, whatever else matches.</summary>
    public const string Deny = nameof(Deny);

    /// <summary>Gets every action.</summary>
    public static IReadOnlyList<string> All { get; } = [Allow, Deny];

    internal static bool IsKnown(string? name) => name is not null && All.Contains(name, StringComparer.OrdinalIgnoreCase);
}
