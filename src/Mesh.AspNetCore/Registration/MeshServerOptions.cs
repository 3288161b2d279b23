namespace Mesh.AspNetCore.Registration;

/// <summary>
/// How this service registers with the control plane and takes connections: bound from <c>Mesh:Server</c>. Registration
/// happens when <c>Mesh:ControlPlane:Address</c> and <c>Mesh:ServiceName</c> are set and <c>AddMeshServer()</c> was called;
/// the connection settings apply when the workload has an identity (<c>Mesh:Identity:Source</c>).
/// </summary>
public sealed class MeshServerOptions
{
    /// <summary>Gets or sets whether the service registers with the control plane when one is configured.</summary>
    /// <value><see langword="true"/> by default.</value>
    public bool Register { get; set; } = true;

    /// <summary>Gets the settings of registration with a Consul agent (<c>Mesh:Server:Consul</c>), off by default.</summary>
    public ConsulRegistrationOptions Consul { get; } = new();

    /// <summary>Gets or sets the address other services reach this one at, such as <c>http://10.0.0.5:8080</c>.</summary>
    /// <value>
    /// <see langword="null"/> by default: Kestrel's first bound address, with a wildcard or <c>localhost</c> host
    /// (<c>0.0.0.0</c>, <c>[::]</c>, <c>+</c>, <c>*</c>) replaced by <c>127.0.0.1</c>, which suits one machine only.
    /// </value>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Gets or sets the id of this instance in the registry.</summary>
    /// <value><see langword="null"/> by default: <c>{service}-{8 hex digits}</c>, new at each start.</value>
    public string? InstanceId { get; set; }

    /// <summary>
    /// Gets or sets the zone this instance runs in, which meshd's registry records for it. Unless <c>Mesh:Zone</c> says
    /// otherwise, it is also the zone this service calls from, so its own calls prefer endpoints in the same zone.
    /// </summary>
    /// <value><see langword="null"/> by default. Not empty, at most 128 characters, without control characters or white space around it.</value>
    public string? Zone { get; set; }

    /// <summary>Gets the labels of this instance, such as <c>version=v2</c>.</summary>
    /// <value>Empty by default.</value>
    public IDictionary<string, string> Labels { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets this instance's share of traffic relative to the others of its service.</summary>
    /// <value>1 by default; 0 or more.</value>
    public int Weight { get; set; } = 1;

    /// <summary>
    /// Gets or sets how long a graceful shutdown keeps serving after deregistering, so callers learn of it and stop
    /// sending before the server stops. The host's shutdown timeout is raised to this plus 10 seconds when it is shorter.
    /// </summary>
    /// <value>5 seconds by default; 0 to 10 minutes.</value>
    public TimeSpan DrainTime { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets the tag of the ASP.NET Core health checks registration waits for. The instance registers with the
    /// control plane only once they report Healthy or Degraded; when they turn Unhealthy it drains (registers again at
    /// weight 0 for <see cref="DrainTime"/>, then deregisters), and it registers at <see cref="Weight"/> again when they
    /// recover. Registration with a Consul agent (<see cref="Consul"/>) follows the same checks: not registered before
    /// they pass, its check marked critical while they fail, passing again when they recover. Without any such check,
    /// the instance registers at once.
    /// </summary>
    /// <value>
    /// <see langword="null"/> by default: every registered check except the mesh's own (<c>mesh</c>, tag <c>ready</c>).
    /// Set to <c>ready</c> to wait for the checks tagged <c>ready</c>, the mesh's included; a tag no check carries turns
    /// the waiting off.
    /// </value>
    public string? HealthCheckTag { get; set; }

    /// <summary>Gets or sets how often the health checks registration waits for run.</summary>
    /// <value>5 seconds by default; from 100 milliseconds to 5 minutes.</value>
    public TimeSpan HealthCheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how long the server waits for a new connection's first byte, which tells a TLS ClientHello from
    /// plaintext, when the workload has an identity and the mode is <c>Strict</c> or <c>Permissive</c>. A connection that
    /// sends nothing for this long is closed, so silent connections cannot hold the server's connections.
    /// </summary>
    /// <value>10 seconds by default; from 100 milliseconds to 1 minute.</value>
    public TimeSpan ProtocolDetectionTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how long a caller has to complete the mesh's TLS handshake once it has begun, when the workload has an identity.</summary>
    /// <value>10 seconds by default; from 100 milliseconds to 1 minute.</value>
    public TimeSpan TlsHandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
