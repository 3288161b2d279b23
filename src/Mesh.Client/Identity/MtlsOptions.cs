namespace Mesh.Identity;

/// <summary>
/// How a service's servers take connections when workloads have an identity, as Istio's PeerAuthentication does, and so
/// how meshed clients reach them. Bound from <c>Mesh:Mtls</c> for the whole mesh and from <c>Mesh:Services:{name}:Mtls</c>
/// for one service, which meshd can push; a service without a mode of its own has the mesh-wide one.
/// </summary>
/// <remarks>
/// The server of the service named by <c>Mesh:ServiceName</c> takes its connections in its mode. A meshed client calling
/// a service follows that service's mode: <c>Strict</c>, only over mutual TLS (endpoints that present no mesh identity are
/// not called, and a workload without an identity of its own reaches none); <c>Permissive</c>, mutual TLS to endpoints
/// that present an identity when the workload has one, plaintext otherwise; <c>Off</c>, plaintext.
/// </remarks>
public sealed class MtlsOptions
{
    /// <summary>Gets or sets the mode: <c>Strict</c>, <c>Permissive</c> or <c>Off</c> (see <see cref="MtlsModeNames"/>), case-insensitive.</summary>
    /// <value>
    /// <see langword="null"/> by default: a service has the mesh-wide mode (<c>Mesh:Mtls:Mode</c>), and the mesh-wide mode is
    /// <c>Permissive</c> (callers with a mesh identity connect over mutual TLS and plaintext callers are still served, while
    /// a mesh migrates). <c>Strict</c> refuses plaintext and certificates the mesh did not sign; <c>Off</c> serves plaintext only.
    /// </value>
    public string? Mode { get; set; }
}
