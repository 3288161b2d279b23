namespace Mesh.Routing;

/// <summary>
/// A copy of a share of a route's requests sent to another service or subset, fire and forget: the copy's answer is
/// discarded and its failure counted, and it never delays, fails or changes the request it copies. The copy carries
/// the header <c>mesh-mirror: 1</c>, the request's method, path, query and headers, and its body only when that is
/// buffered (a streamed body is not copied, and the copy is counted as skipped). Bound from
/// <c>Mesh:Services:{name}:Routes:{i}:Mirror</c>.
/// </summary>
public sealed class RouteMirrorOptions
{
    /// <summary>Gets or sets the service that receives the copies.</summary>
    /// <value><see langword="null"/> by default: this service (then <see cref="Labels"/> should name a subset).</value>
    public string? Service { get; set; }

    /// <summary>Gets the labels an endpoint of the mirror's service must have to receive copies.</summary>
    /// <value>Empty by default: every endpoint of that service.</value>
    public IDictionary<string, string> Labels { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets the share of the route's requests copied, in percent.</summary>
    /// <value>100 by default; 0 to 100.</value>
    public double Percent { get; set; } = 100;

    /// <summary>Gets or sets the most time a copy may take before it is abandoned (and counted as failed).</summary>
    /// <value>1 second by default; more than 0 and at most 1 minute.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the most copies in flight at once for this route; a copy beyond it is skipped and counted.</summary>
    /// <value>16 by default; 1 to 1024.</value>
    public int MaxConcurrent { get; set; } = 16;
}
