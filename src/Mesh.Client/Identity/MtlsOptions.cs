namespace Mesh.Identity;

/// <summary>
/// How a service's own server takes connections when the workload has an identity, as Istio's PeerAuthentication does.
/// Bound from <c>Mesh:Services:{name}:Mtls</c> for the service named by <c>Mesh:ServiceName</c>, so meshd can push it
/// per service; ignored for other services.
/// </summary>
public sealed class MtlsOptions
{
    /// <summary>Gets or sets the mode: <c>Strict</c>, <c>Permissive</c> or <c>Off</c> (see <see cref="MtlsModeNames"/>).</summary>
    /// <value>
    /// <c>Permissive</c> by default: callers with a mesh identity connect over mutual TLS and plaintext callers are still
    /// served (while a mesh migrates); <c>Strict</c> refuses plaintext and certificates the mesh did not sign; <c>Off</c>
    /// serves plaintext only. Case-insensitive.
    /// </value>
    public string Mode { get; set; } = MtlsModeNames.Permissive;
}
