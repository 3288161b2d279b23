namespace Mesh.Routing;

/// <summary>The ways a route compares a path, header or query parameter with its value.</summary>
public static class RouteMatchTypeNames
{
    /// <summary>The whole value, case-sensitive.</summary>
    public const string Exact = nameof(Exact);

    /// <summary>The start of the value; for a path, whole segments.</summary>
    public const string Prefix = nameof(Prefix);

    /// <summary>A regular expression the whole value must match, run without backtracking.</summary>
    public const string Regex = nameof(Regex);

    /// <summary>The header or query parameter is there, with any value; not for paths.</summary>
    public const string Present = nameof(Present);

    internal static readonly string[] All = [Exact, Prefix, Regex, Present];

    internal static string? Canonical(string? type) => Array.Find(All, t => string.Equals(t, type, StringComparison.OrdinalIgnoreCase));
}
