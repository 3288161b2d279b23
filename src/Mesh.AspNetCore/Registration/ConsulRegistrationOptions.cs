namespace Mesh.AspNetCore.Registration;

/// <summary>
/// How this service registers with a Consul agent: bound from <c>Mesh:Server:Consul</c>. The agent's address and token
/// are those of the <c>consul</c> discovery source (<c>Mesh:Discovery:Consul:Address</c>, <c>Mesh:Discovery:Consul:Token</c>).
/// </summary>
public sealed class ConsulRegistrationOptions
{
    /// <summary>
    /// Gets or sets whether the service registers with the Consul agent, with a TTL check kept passing while it runs and
    /// its health checks (<see cref="MeshServerOptions.HealthCheckTag"/>) pass: not registered before they pass, the
    /// check marked critical while they fail.
    /// </summary>
    /// <value><see langword="false"/> by default.</value>
    public bool Register { get; set; }

    /// <summary>
    /// Gets or sets the TTL of the service's check: the check is passed every third of it, and the agent marks the
    /// instance critical when no pass arrives within it. Once registered, no retry waits longer than a third of it.
    /// </summary>
    /// <value>15 seconds by default; 1 second to 10 minutes.</value>
    public TimeSpan CheckTtl { get; set; } = TimeSpan.FromSeconds(15);
}
