namespace Mesh.CircuitBreaking;

/// <summary>
/// A breaker for the whole service: when too many attempts fail, calls fail fast without network I/O for a while,
/// then one probe decides whether to close again. Bound from <c>Mesh:Services:{name}:CircuitBreaker</c>.
/// </summary>
/// <remarks>
/// Failures are 5xx answers, connections broken after the request was sent, and attempt timeouts. An endpoint that
/// cannot be reached does not count (the request moves to another endpoint and outlier detection ejects it), nor do
/// the caller's cancellations.
/// </remarks>
public sealed class CircuitBreakerOptions
{
    /// <summary>Gets or sets whether the breaker is in use.</summary>
    /// <value><see langword="true"/> by default.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the share of failed attempts within <see cref="SamplingDuration"/> that opens the breaker.</summary>
    /// <value>0.5 by default; above 0 and at most 1.</value>
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>Gets or sets the attempts needed within <see cref="SamplingDuration"/> before the ratio counts.</summary>
    /// <value>20 by default; 2 or more.</value>
    public int MinimumThroughput { get; set; } = 20;

    /// <summary>Gets or sets the window over which failures are counted.</summary>
    /// <value>10 seconds by default; at least 500 ms.</value>
    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how long the breaker stays open before letting one probe through.</summary>
    /// <value>5 seconds by default; at least 500 ms.</value>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(5);
}
