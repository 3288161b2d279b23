namespace Mesh.Balancing;

/// <summary>
/// How a caller with a zone (<c>Mesh:Zone</c>) prefers the endpoints of its own zone. Bound from
/// <c>Mesh:Services:{name}:ZoneAware</c>.
/// </summary>
/// <remarks>
/// <para>
/// The rule, decided again whenever an endpoint of the service is ejected or returns and whenever its endpoints or
/// options change: the <em>local</em> endpoints are those with weight above 0 whose <c>Zone</c> equals the caller's
/// (compared ignoring case). When the caller has a zone, the service has local endpoints, and at least
/// <see cref="MinHealthyPercent"/> of them are available (not ejected by outlier detection, and at least one), the
/// balancer picks among the available local endpoints only. Otherwise it picks among every available endpoint of the
/// service, local ones included, exactly as without zones.
/// </para>
/// <para>
/// While the local endpoints are preferred, an attempt whose connection to a local endpoint fails moves on to another
/// local endpoint the call has not tried, and once every local endpoint has been tried, to one of the other zones; a
/// retry likewise goes to another zone when the call has tried every local endpoint. Failing endpoints leave through
/// outlier detection, which decides the rule again, so a zone that fails as a whole spills over to the others within
/// the few calls that eject its endpoints.
/// </para>
/// </remarks>
public sealed class ZoneAwareOptions
{
    /// <summary>Gets or sets whether a caller with a zone prefers endpoints of its zone for this service.</summary>
    /// <value><see langword="true"/> by default; without <c>Mesh:Zone</c> there is nothing to prefer.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Gets or sets the least share of the local zone's endpoints, in percent, that must be available for traffic to
    /// stay in the zone: below it, every available endpoint of the service shares the traffic.
    /// </summary>
    /// <value>70 by default; from 0 to 100 (0: while any one local endpoint is available).</value>
    public int MinHealthyPercent { get; set; } = 70;
}
