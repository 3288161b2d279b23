namespace Mesh.Identity;

/// <summary>Where the workload's certificate comes from: files, meshd's certificate authority, or nowhere (no identity).</summary>
internal interface IWorkloadIdentitySource
{
    /// <summary>
    /// Starts keeping the workload's certificate current; completes once there is one to present (or the start-up wait
    /// passed without one). Never fails: without a certificate, mutual TLS fails closed.
    /// </summary>
    Task StartAsync(CancellationToken cancellationToken);
}

/// <summary>No workload identity: calls stay plaintext.</summary>
internal sealed class NoWorkloadIdentity : IWorkloadIdentitySource
{
    public static NoWorkloadIdentity Instance { get; } = new();

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
