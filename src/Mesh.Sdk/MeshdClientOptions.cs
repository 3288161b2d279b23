namespace Mesh.Sdk;

/// <summary>Where meshd is and how to talk to it: the settings of a <see cref="MeshdClient"/>.</summary>
/// <example>
/// <code>
/// using var meshd = new MeshdClient(new MeshdClientOptions
/// {
///     Addresses = { new Uri("https://meshd-0:7070"), new Uri("https://meshd-1:7070") },
///     Token = Environment.GetEnvironmentVariable("MESH_TOKEN"),
/// });
/// </code>
/// </example>
public sealed class MeshdClientOptions
{
    /// <summary>Gets meshd's addresses (scheme, host and port), tried in turn: a request that cannot connect moves to the next one.</summary>
    /// <value>Empty by default; at least one is required unless the <see cref="HttpClient"/> given to the client has a base address.</value>
    public IList<Uri> Addresses { get; } = new List<Uri>();

    /// <summary>Gets or sets the bearer token sent with every request: the admin token, a read-only token, or a service credential.</summary>
    /// <value><see langword="null"/> by default: only <c>/healthz</c> and <c>/readyz</c> answer without one.</value>
    public string? Token { get; set; }

    /// <summary>Gets or sets how long one request may take before it is abandoned (a watch adds its own wait to it).</summary>
    /// <value>30 seconds by default; more than zero.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets the longest answer read from meshd, in bytes; a longer one is refused before it is parsed. The largest
    /// answer is a snapshot, bounded by meshd's <c>Meshd:Limits:MaxSnapshotBytes</c> (16 MiB by default).
    /// </summary>
    /// <value>64 MiB by default; more than zero.</value>
    public int MaxResponseBytes { get; set; } = 64 * 1024 * 1024;
}
