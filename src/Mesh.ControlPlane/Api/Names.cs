namespace Meshd.Api;

/// <summary>Checks the names that become store keys.</summary>
internal static class Names
{
    /// <summary>A service name as the client's validator has it: letters, digits, '-' and '.', as in a host name.</summary>
    public static string? CheckService(string name)
    {
        if (name.Length is 0 or > 253 || name[0] is '-' or '.' || name[^1] is '-' or '.' || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.'))
        {
            return $"'{name}' is not a valid service name (letters, digits, '-' and '.', as in a host name).";
        }

        return null;
    }

    public static string? CheckInstance(string id)
    {
        if (id.Length is 0 or > 128 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or ':'))
        {
            return $"'{id}' is not a valid instance id (1 to 128 letters, digits, '-', '.', '_' and ':').";
        }

        return null;
    }
}
