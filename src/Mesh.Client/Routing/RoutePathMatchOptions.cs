namespace Mesh.Routing;

/// <summary>A condition on the request's path (its escaped form, without the query).</summary>
public sealed class RoutePathMatchOptions
{
    /// <summary>Gets or sets how <see cref="Value"/> is compared with the path.</summary>
    /// <value>
    /// <see cref="RouteMatchTypeNames.Prefix"/> by default. <see cref="RouteMatchTypeNames.Exact"/>: the whole path, case
    /// sensitive. <see cref="RouteMatchTypeNames.Prefix"/>: by whole segments, so <c>/api</c> takes <c>/api</c> and
    /// <c>/api/x</c> but not <c>/apix</c>; a trailing <c>/</c> is ignored. <see cref="RouteMatchTypeNames.Regex"/>: the
    /// whole path must match the expression (.NET syntax, run without backtracking).
    /// </value>
    public string Type { get; set; } = RouteMatchTypeNames.Prefix;

    /// <summary>Gets or sets the path, prefix or regular expression.</summary>
    /// <value><see langword="null"/> by default: no condition. A path or prefix starts with <c>/</c>; at most 1024 characters.</value>
    public string? Value { get; set; }
}
