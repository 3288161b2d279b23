namespace Mesh.Routing;

/// <summary>A delay a route injects before a share of its attempts are sent.</summary>
public sealed class RouteFaultDelayOptions
{
    /// <summary>Gets or sets the share of attempts delayed, in percent.</summary>
    /// <value>0 by default; from 0 to 100, decimals allowed (0.5 delays one attempt in 200).</value>
    public double Percent { get; set; }

    /// <summary>Gets or sets how long a delayed attempt waits before it is sent; the call's deadline and cancellation still apply.</summary>
    /// <value>Zero by default; more than 0 and at most 1 minute.</value>
    public TimeSpan Duration { get; set; }
}
