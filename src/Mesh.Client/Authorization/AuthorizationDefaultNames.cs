namespace Mesh.Authorization;

/// <summary>The defaults of <see cref="AuthorizationOptions.Default"/>, as Linkerd's default inbound policies.</summary>
public static class AuthorizationDefaultNames
{
    /// <summary>Every caller is let in, with or without a mesh identity.</summary>
    public const string Allow = "allow";

    /// <summary>Only callers with a verified mesh identity are let in.</summary>
    public const string Authenticated = "authenticated";

    /// <summary>No caller is let in.</summary>
    public const string Deny = "deny";

    /// <summary>Gets every default.</summary>
    public static IReadOnlyList<string> All { get; } = [Allow, Authenticated, Deny];

    internal static bool IsKnown(string? name) => name is not null && All.Contains(name, StringComparer.OrdinalIgnoreCase);
}
