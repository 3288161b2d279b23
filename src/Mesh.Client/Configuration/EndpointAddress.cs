namespace Mesh.Configuration;

/// <summary>The rules an endpoint address follows, shared by validation, <see cref="Discovery.MeshEndpoint"/> and meshd.</summary>
internal static class EndpointAddress
{
    /// <summary>Parses an address, or says what is wrong with it.</summary>
    public static Uri? TryParse(string? value, out string? problem)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            problem = "is missing";
            return null;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            problem = "is not an absolute http or https URI";
            return null;
        }

        problem = Check(uri);
        return problem is null ? uri : null;
    }

    /// <summary>Returns what is wrong with an address, or <see langword="null"/> when it is usable.</summary>
    public static string? Check(Uri uri)
    {
        if (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return "is not an absolute http or https URI";
        }

        if (uri.AbsolutePath != "/" || uri.Query.Length != 0 || uri.Fragment.Length != 0 || uri.UserInfo.Length != 0)
        {
            return "must hold only a scheme, a host and a port (no path, query, fragment or user info)";
        }

        return null;
    }
}
