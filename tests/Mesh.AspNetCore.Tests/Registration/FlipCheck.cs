using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Mesh.AspNetCore.Tests.Registration;

/// <summary>A health check the test flips.</summary>
internal sealed class FlipCheck : IHealthCheck
{
    private int _runs;
    private volatile bool _healthy;

    public bool Healthy
    {
        get => _healthy;
        set => _healthy = value;
    }

    public int Runs => Volatile.Read(ref _runs);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _runs);
        return Task.FromResult(_healthy ? HealthCheckResult.Healthy("pool ok") : HealthCheckResult.Unhealthy("connection pool exhausted", data: new Dictionary<string, object> { ["secret"] = "s3cr3t" }));
    }
}
