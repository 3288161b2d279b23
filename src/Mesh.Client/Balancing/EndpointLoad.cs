using Mesh.Discovery;

namespace Mesh.Balancing;

/// <summary>
/// An endpoint as balancers see it: its weight, requests in flight and a peak-EWMA latency. Lives across
/// configuration reloads for as long as its service keeps the endpoint with the same address and shape.
/// </summary>
internal sealed class EndpointLoad
{
    /// <summary>How long a latency observation takes to fade to 1/e of its weight (Finagle and Linkerd use 10 s).</summary>
    internal static readonly TimeSpan DecayTime = TimeSpan.FromSeconds(10);

    /// <summary>The latency recorded for a request that could not reach the endpoint, so a dead endpoint never looks fast.</summary>
    internal const double NotSentPenaltyMilliseconds = 1000;

    // An endpoint never measured is free while idle (so it is tried at once) and costly while its first request is out.
    private const double UnmeasuredBusyCost = 1e9;

    private readonly double _ticksPerMillisecond;
    private readonly double _decayTicks;
    private int _inFlight;
    private long _latencyBits; // a double, in milliseconds; 0 until the first observation
    private long _observedAt;

    public EndpointLoad(MeshEndpoint endpoint, TimeProvider time)
    {
        Endpoint = endpoint;
        Authority = endpoint.Address.GetLeftPart(UriPartial.Authority);
        _ticksPerMillisecond = time.TimestampFrequency / 1000.0;
        _decayTicks = DecayTime.TotalMilliseconds * _ticksPerMillisecond;
    }

    public MeshEndpoint Endpoint { get; }

    /// <summary>Gets <c>scheme://host:port</c> of the endpoint, ready to prefix a path.</summary>
    public string Authority { get; }

    public int Weight => Endpoint.Weight;

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Gets the peak-EWMA latency in milliseconds as last observed (not decayed), or 0 when never observed.</summary>
    public double Latency => BitConverter.Int64BitsToDouble(Volatile.Read(ref _latencyBits));

    /// <summary>Marks a request in flight; the returned lease must be completed exactly once.</summary>
    public EndpointLease Acquire(long timestamp)
    {
        Interlocked.Increment(ref _inFlight);
        return new EndpointLease(this, timestamp);
    }

    internal void Complete(long startedAt, long endedAt, EndpointOutcome outcome)
    {
        Interlocked.Decrement(ref _inFlight);
        switch (outcome)
        {
            case EndpointOutcome.Success:
            case EndpointOutcome.Failure:
                Observe((endedAt - startedAt) / _ticksPerMillisecond, endedAt);
                break;
            case EndpointOutcome.NotSent:
                Observe(NotSentPenaltyMilliseconds, endedAt);
                break;
            case EndpointOutcome.Canceled:
                // No answer, but the endpoint took at least this long: a deadline or a hedge that cut a stalled request
                // short must still make the endpoint look slow. A cancel sooner than expected says nothing.
                var atLeast = (endedAt - startedAt) / _ticksPerMillisecond;
                var latency = BitConverter.Int64BitsToDouble(Volatile.Read(ref _latencyBits));
                if (atLeast > Decay(latency, endedAt - Volatile.Read(ref _observedAt)))
                {
                    Observe(atLeast, endedAt);
                }

                break;
            default:
                break;
        }
    }

    /// <summary>Gets the expected cost of sending one more request here now: decayed latency × (in flight + 1).</summary>
    public double Cost(long now)
    {
        var inFlight = Volatile.Read(ref _inFlight);
        var latency = BitConverter.Int64BitsToDouble(Volatile.Read(ref _latencyBits));
        if (latency == 0)
        {
            return inFlight == 0 ? 0 : UnmeasuredBusyCost + inFlight;
        }

        return Decay(latency, now - Volatile.Read(ref _observedAt)) * (inFlight + 1);
    }

    private void Observe(double latency, long now)
    {
        latency = Math.Max(latency, 1e-3);
        while (true)
        {
            var oldBits = Volatile.Read(ref _latencyBits);
            var old = BitConverter.Int64BitsToDouble(oldBits);
            var updated = latency;
            if (old != 0 && latency < old)
            {
                // Below the peak: move toward the new value by how much time passed since the last observation.
                var elapsed = Math.Max(0, now - Volatile.Read(ref _observedAt));
                var keep = Math.Exp(-elapsed / _decayTicks);
                updated = (old * keep) + (latency * (1 - keep));
            }

            if (Interlocked.CompareExchange(ref _latencyBits, BitConverter.DoubleToInt64Bits(updated), oldBits) == oldBits)
            {
                Volatile.Write(ref _observedAt, now);
                return;
            }
        }
    }

    private double Decay(double latency, long elapsedTicks) =>
        elapsedTicks <= 0 ? latency : latency * Math.Exp(-elapsedTicks / _decayTicks);

    public override string ToString() => Authority;
}
