using Mesh.Authorization;
using Mesh.ControlPlane;
using Mesh.Discovery;
using Mesh.Identity;

namespace Mesh;

/// <summary>
/// Options of the mesh: the services it can reach, by logical name. Bound from the <c>Mesh</c>
/// configuration section by <c>AddMesh()</c>, and reloaded without restart when it changes.
/// </summary>
public sealed class MeshOptions
{
    /// <summary>
    /// Gets the services of the mesh, keyed by logical name (the host a meshed client calls, such as
    /// <c>inventory</c> in <c>http://inventory/items/1</c>). Names are case-insensitive.
    /// </summary>
    /// <value>Empty by default: a meshed client then passes every request through unchanged.</value>
    public IDictionary<string, MeshServiceOptions> Services { get; } =
        new Dictionary<string, MeshServiceOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets the name of this service in the mesh. Meshed clients send it in the <c>mesh-caller</c> header, so
    /// the services they call can tell their callers apart in metrics.
    /// </summary>
    /// <value><see langword="null"/> by default: no header is sent.</value>
    public string? ServiceName { get; set; }

    /// <summary>
    /// Gets or sets the zone this process runs in (such as <c>eu-west-1a</c>). With a zone, the balancing of every service
    /// prefers the endpoints whose <c>Zone</c> is the same while enough of them are available, and spills over to the
    /// other zones when they are ejected, failing or too few; see <see cref="Balancing.ZoneAwareOptions"/> for the rule.
    /// </summary>
    /// <value>
    /// <see langword="null"/> by default: in a service that calls <c>AddMeshServer()</c>, the zone it registers in
    /// (<c>Mesh:Server:Zone</c>); otherwise every zone is alike. Not empty, at most 128 characters (as meshd's registry allows),
    /// without control characters or white space around it. Reloaded with the rest of the options.
    /// </value>
    public string? Zone { get; set; }

    /// <summary>
    /// Gets or sets what a meshed client does with a request to a host that is not a service of the mesh:
    /// <see cref="OutboundTrafficPolicyNames.AllowAny"/> calls it outside the mesh, except where the mesh can tell it
    /// was meant for the mesh; <see cref="OutboundTrafficPolicyNames.RegistryOnly"/> fails every such request. A request
    /// that is refused fails at once with <see cref="Discovery.MeshServiceUnknownException"/>, saying why and what the
    /// control plane last said; nothing is sent.
    /// </summary>
    /// <value><see cref="OutboundTrafficPolicyNames.AllowAny"/> by default. Reloaded with the rest of the options.</value>
    public string OutboundTrafficPolicy { get; set; } = OutboundTrafficPolicyNames.AllowAny;

    /// <summary>
    /// Gets the host suffixes that name services of the mesh (<c>mesh.internal</c> makes <c>orders.mesh.internal</c> a
    /// mesh host): a request to such a host goes through the mesh or fails, and is never sent outside it, whatever
    /// <see cref="OutboundTrafficPolicy"/> says. Services keep their own names: a service is called by the host it is named.
    /// </summary>
    /// <value>None by default. At most 32, each a DNS name of at most 253 characters. Reloaded with the rest of the options.</value>
    public IList<string> ServiceDomains { get; } = [];

    /// <summary>
    /// Gets the settings of the control plane (<c>meshd</c>). With an address set, services, their endpoints and their
    /// policies also come from the control plane; a key set locally under <c>Mesh:Services</c> overrides the same key from
    /// the control plane, and local <c>Endpoints</c> of a service replace its registered instances.
    /// </summary>
    /// <value>No control plane by default. Read once, at start.</value>
    public ControlPlaneOptions ControlPlane { get; } = new();

    /// <summary>
    /// Gets the mesh-wide discovery settings: the default source of services' endpoints (<c>Mesh:Discovery:Source</c>) and
    /// the settings of each source, such as <c>Mesh:Discovery:Dns:Server</c>.
    /// </summary>
    /// <value>No default source: configured endpoints, then the control plane's. Source settings are read once, at start.</value>
    public MeshDiscoveryOptions Discovery { get; } = new();

    /// <summary>
    /// Gets the workload identity of this process: with a source set, calls to endpoints that present a mesh identity
    /// use mutual TLS with the workload's X.509-SVID, and check the endpoint's certificate against the mesh's trust
    /// bundle and the identity its service must have.
    /// </summary>
    /// <value>No identity by default: calls stay plaintext. Read once, at start.</value>
    public IdentityOptions Identity { get; } = new();

    /// <summary>
    /// Gets the mesh-wide mutual TLS mode, <c>Mesh:Mtls:Mode</c>: the mode of every service that has none of its own under
    /// <c>Mesh:Services:{name}:Mtls</c>, for its server and for the clients that call it (see <see cref="MtlsOptions"/>).
    /// </summary>
    /// <value>No mode by default, which is <c>Permissive</c>. Reloaded with the rest of the options.</value>
    public MtlsOptions Mtls { get; } = new();

    /// <summary>Gets the mesh-wide authorization settings: the default of every service that sets none of its own.</summary>
    /// <value>Default <c>allow</c>; see <see cref="MeshAuthorizationOptions"/>.</value>
    public MeshAuthorizationOptions Authorization { get; } = new();

    /// <summary>Why binding the configuration section failed, reported by validation.</summary>
    internal string? BindingError { get; set; }

    /// <summary>The keys of the configuration section that no option has, each with its path, reported by validation.</summary>
    internal List<string> UnknownKeys { get; } = [];
}
