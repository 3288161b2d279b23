namespace Mesh.Outliers;

/// <summary>
/// Takes an endpoint out of balancing after consecutive failures, for longer each time it happens again.
/// Bound from <c>Mesh:Services:{name}:OutlierDetection</c>.
/// </summary>
/// <remarks>
/// A failure is a 5xx answer, a connection failure, a broken connection or an attempt timeout; any other answer
/// resets the count. The n-th ejection of an endpoint lasts <see cref="BaseEjectionTime"/> × n, at most
/// <see cref="MaxEjectionTime"/>, shortened by up to 10% at random so ejected endpoints do not all return at once.
/// </remarks>
public sealed class OutlierDetectionOptions
{
    /// <summary>Gets or sets whether endpoints are ejected at all.</summary>
    /// <value><see langword="true"/> by default.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the consecutive failures that eject an endpoint.</summary>
    /// <value>5 by default; 1 or more.</value>
    public int ConsecutiveFailures { get; set; } = 5;

    /// <summary>Gets or sets how long a first ejection lasts.</summary>
    /// <value>30 seconds by default.</value>
    public TimeSpan BaseEjectionTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets the longest an ejection may last.</summary>
    /// <value>5 minutes by default; not less than <see cref="BaseEjectionTime"/>.</value>
    public TimeSpan MaxEjectionTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets the largest share of a service's endpoints ejected at once, in percent; one endpoint may always be ejected.</summary>
    /// <value>50 by default; from 0 to 100.</value>
    public int MaxEjectionPercent { get; set; } = 50;
}
