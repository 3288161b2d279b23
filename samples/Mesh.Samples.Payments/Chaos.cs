using System.Globalization;

namespace Mesh.Samples.Payments;

/// <summary>
/// The faults payments injects into its own answers: a delay and a share of 503s. Starts from configuration
/// (<c>Payments:FailureRate</c>, <c>Payments:Delay</c>), follows its reloads, and can be changed at run time through
/// <c>POST /admin/chaos</c>.
/// </summary>
internal sealed class Chaos
{
    private double _failureRate;
    private long _delayTicks;

    public Chaos(IConfiguration configuration)
    {
        Read(configuration);
        Microsoft.Extensions.Primitives.ChangeToken.OnChange(configuration.GetReloadToken, () => Read(configuration));
    }

    /// <summary>Gets the share of requests answered 503, from 0 to 1.</summary>
    public double FailureRate => Volatile.Read(ref _failureRate);

    /// <summary>Gets how long each request waits before it is answered.</summary>
    public TimeSpan Delay => TimeSpan.FromTicks(Interlocked.Read(ref _delayTicks));

    public void Set(double? failureRate, TimeSpan? delay)
    {
        if (failureRate is { } rate)
        {
            Volatile.Write(ref _failureRate, Math.Clamp(rate, 0, 1));
        }

        if (delay is { } wait)
        {
            Interlocked.Exchange(ref _delayTicks, Math.Max(0, wait.Ticks));
        }
    }

    private void Read(IConfiguration configuration)
    {
        var section = configuration.GetSection("Payments");
        Set(
            double.TryParse(section["FailureRate"], NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) ? rate : 0,
            TimeSpan.TryParse(section["Delay"], CultureInfo.InvariantCulture, out var delay) ? delay : TimeSpan.Zero);
    }
}
