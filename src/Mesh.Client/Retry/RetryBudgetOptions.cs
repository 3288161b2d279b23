namespace Mesh.Retry;

/// <summary>
/// Caps retries to a share of the service's recent request rate, so retries cannot multiply the load on a failing
/// service. Bound from <c>Mesh:Services:{name}:Retry:Budget</c>.
/// </summary>
/// <remarks>
/// Within any <see cref="Window"/>, retries may number at most <see cref="Ratio"/> × requests plus
/// <see cref="MinPerSecond"/> for each second of the window seen so far.
/// </remarks>
public sealed class RetryBudgetOptions
{
    /// <summary>Gets or sets the retries allowed per request.</summary>
    /// <value>0.2 by default (20% extra load at most); from 0 to 1.</value>
    public double Ratio { get; set; } = 0.2;

    /// <summary>Gets or sets the retries allowed per second whatever the traffic, so a quiet client can still retry.</summary>
    /// <value>10 by default; 0 or more.</value>
    public int MinPerSecond { get; set; } = 10;

    /// <summary>Gets or sets how far back requests and retries are counted.</summary>
    /// <value>10 seconds by default; from 1 second to 1 hour.</value>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(10);
}
