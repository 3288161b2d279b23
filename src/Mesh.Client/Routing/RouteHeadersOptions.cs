namespace Mesh.Routing;

/// <summary>
/// How a route changes the headers of its requests, as the Gateway API's <c>RequestHeaderModifier</c> does: bound from
/// <c>Mesh:Services:{name}:Routes:{i}:RequestHeaders</c>. Applied once per call, before the first attempt, in the order
/// <see cref="Remove"/>, <see cref="Set"/>, <see cref="Add"/>; a header name may appear in one of the three only, so the
/// order never changes the result. The mesh's own headers (<c>mesh-*</c>), <c>Host</c>, <c>Content-Length</c> and
/// hop-by-hop headers cannot be changed.
/// </summary>
public sealed class RouteHeadersOptions
{
    /// <summary>Gets the headers appended to the request: a value is added to those the request already has.</summary>
    /// <value>Empty by default; at most 16, names of RFC 9110 token characters, values of at most 4096 characters of printable ASCII (spaces included).</value>
    public IDictionary<string, string> Add { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets the headers set on the request: the value replaces every value the request had.</summary>
    /// <value>Empty by default; the same bounds as <see cref="Add"/>.</value>
    public IDictionary<string, string> Set { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets the names of headers removed from the request.</summary>
    /// <value>Empty by default; at most 16.</value>
    public IList<string> Remove { get; } = new List<string>();
}
