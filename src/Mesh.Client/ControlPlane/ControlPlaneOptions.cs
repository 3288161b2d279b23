namespace Mesh.ControlPlane;

/// <summary>
/// Where the mesh's control plane (<c>meshd</c>) is and how this process talks to it. Bound from
/// <c>Mesh:ControlPlane</c>. With an address set, <c>AddMesh()</c> takes the endpoints and policies of services from the
/// control plane, keeps the last good snapshot on disk, and keeps routing with it while the control plane is away.
/// </summary>
public sealed class ControlPlaneOptions
{
    /// <summary>Gets or sets the address of the control plane, such as <c>http://meshd:7070</c>.</summary>
    /// <value>
    /// <see langword="null"/> by default: no control plane. Several addresses may be given separated by commas; they are
    /// added to <see cref="Addresses"/> and tried in turn when one fails.
    /// </value>
    public string? Address { get; set; }

    /// <summary>Gets the addresses of the control plane's replicas, tried in turn when one fails.</summary>
    /// <value>Empty by default. Used together with <see cref="Address"/>.</value>
    public IList<string> Addresses { get; } = new List<string>();

    /// <summary>Gets or sets the workload token sent as a bearer token. It never appears in logs.</summary>
    /// <value><see langword="null"/> by default: requests carry no token.</value>
    public string? Token { get; set; }

    /// <summary>
    /// Gets or sets the path of a PEM file with the certificates of the authorities meshd's TLS certificate chains to.
    /// With it, an <c>https</c> control plane is trusted only if its certificate chains to one of them (and names the
    /// host); without it, the system's trust store decides.
    /// </summary>
    /// <value><see langword="null"/> by default: the system's trust store.</value>
    public string? TrustedCertificatesPath { get; set; }

    /// <summary>Gets or sets the directory where the last good snapshot is kept, so a restart during an outage of the control plane still routes.</summary>
    /// <value>
    /// <see langword="null"/> by default: <c>{LocalApplicationData}/mesh/{service}</c> (the system's temporary directory when there is
    /// no local application data directory), where <c>{service}</c> is <c>Mesh:ServiceName</c> or else the entry assembly's name.
    /// </value>
    public string? CacheDirectory { get; set; }

    /// <summary>Gets or sets how long one watch request waits for a change before the control plane answers that there is none.</summary>
    /// <value>30 seconds by default; 1 to 60 seconds.</value>
    public TimeSpan WaitTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how long start-up waits for the first snapshot when there is no cached one.</summary>
    /// <value>5 seconds by default; 0 to 5 minutes. Start-up never waits when a cached snapshot exists.</value>
    public TimeSpan StartupWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets every address given, <see cref="Address"/> first, trimmed and without duplicates.</summary>
    internal IReadOnlyList<string> AllAddresses()
    {
        var all = new List<string>();
        foreach (var value in (Address ?? string.Empty).Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Concat(Addresses))
        {
            var address = value?.Trim();
            if (!string.IsNullOrEmpty(address) && !all.Contains(address, StringComparer.OrdinalIgnoreCase))
            {
                all.Add(address);
            }
        }

        return all;
    }

    /// <summary>Gets whether a control plane is configured.</summary>
    internal bool IsEnabled => AllAddresses().Count > 0;
}
