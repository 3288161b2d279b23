namespace Meshd;

/// <summary>Checks the names that become store keys.</summary>
internal static class Names
{
    /// <summary>A service name by the client's own rule: letters, digits, '-' and '.', as in a host name.</summary>
    public static string? CheckService(string name) =>
        Mesh.Configuration.MeshOptionsValidator.IsServiceName(name)
            ? null
            : $"'{name}' is not a valid service name (letters, digits, '-' and '.', as in a host name, with no empty part such as 'a..b').";

    /// <summary>A service name as a policy write must spell it: valid and lower-case, the one spelling meshd keeps.</summary>
    public static string? CheckCanonicalService(string name)
    {
        if (CheckService(name) is { } bad)
        {
            return bad;
        }

        var canonical = name.ToLowerInvariant();
        return canonical == name
            ? null
            : $"'{name}' is not lower-case: meshd keeps service names lower-case (clients match them ignoring case), so this would write the policy of '{canonical}'. Use '{canonical}'.";
    }

    public static string? CheckInstance(string id)
    {
        if (id.Length is 0 or > 128 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or ':'))
        {
            return $"'{id}' is not a valid instance id (1 to 128 letters, digits, '-', '.', '_' and ':').";
        }

        return null;
    }

    /// <summary>Why a text is refused: white space around it or control characters in it; null when it is clean.</summary>
    public static string? TextProblem(string text)
    {
        if (text.Length > 0 && (char.IsWhiteSpace(text[0]) || char.IsWhiteSpace(text[^1])))
        {
            return "has white space around it; send it without.";
        }

        return text.Any(char.IsControl) ? "holds control characters." : null;
    }
}
