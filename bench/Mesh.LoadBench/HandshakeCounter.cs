using System.Diagnostics.Metrics;

namespace Mesh.LoadBench;

/// <summary>
/// Counts the mutual TLS handshakes of one container's meshed clients, from the mesh's own counter
/// <c>mesh.identity.client.handshakes</c> (every outcome). Only that instrument is listened to, so the mesh's other
/// instruments stay without a listener, as in the other rows.
/// </summary>
internal sealed class HandshakeCounter : IDisposable
{
    private const string Instrument = "mesh.identity.client.handshakes";
    private readonly MeterListener _listener = new();
    private long _count;

    /// <param name="meters">The meter factory of the container whose clients are counted (the meter's scope).</param>
    public HandshakeCounter(IMeterFactory meters)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == Instrument && ReferenceEquals(instrument.Meter.Scope, meters))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, value));
        _listener.Start();
    }

    /// <summary>Gets the handshakes counted so far.</summary>
    public long Count => Interlocked.Read(ref _count);

    public void Dispose() => _listener.Dispose();
}
