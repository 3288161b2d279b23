namespace Mesh.Routing;

/// <summary>A condition on one request header or query parameter.</summary>
public sealed class RouteValueMatchOptions
{
    /// <summary>Gets or sets the header name (case-insensitive) or query parameter name (case-sensitive).</summary>
    /// <value>Required.</value>
    public string? Name { get; set; }

    /// <summary>Gets or sets how <see cref="Value"/> is compared with the request's value.</summary>
    /// <value>
    /// <see cref="RouteMatchTypeNames.Exact"/> by default; also <see cref="RouteMatchTypeNames.Prefix"/>,
    /// <see cref="RouteMatchTypeNames.Regex"/> (the whole value must match) and <see cref="RouteMatchTypeNames.Present"/>
    /// (any value, <see cref="Value"/> not set). With several values for one name, one matching value is enough.
    /// </value>
    public string Type { get; set; } = RouteMatchTypeNames.Exact;

    /// <summary>Gets or sets the value, prefix or regular expression; case-sensitive.</summary>
    /// <value>Required unless <see cref="Type"/> is <see cref="RouteMatchTypeNames.Present"/>; at most 1024 characters.</value>
    public string? Value { get; set; }
}
