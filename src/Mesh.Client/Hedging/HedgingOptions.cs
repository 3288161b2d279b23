namespace Mesh.Hedging;

/// <summary>
/// Sends a second attempt to another endpoint when the first has not answered within <see cref="Delay"/>; the first
/// answer wins and the others are cancelled. Off unless set; applies to idempotent requests only, in place of retries.
/// Bound from <c>Mesh:Services:{name}:Hedging</c>.
/// </summary>
public sealed class HedgingOptions
{
    /// <summary>Gets or sets how long to wait for an answer before sending the next attempt.</summary>
    /// <value>50 ms by default; 0 or more.</value>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Gets or sets the most attempts one call makes, the first included.</summary>
    /// <value>2 by default; from 2 to 10.</value>
    public int MaxAttempts { get; set; } = 2;
}
