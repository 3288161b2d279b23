using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Mesh.AspNetCore.Tests.Registration;

/// <summary>Reads <c>mesh.server.registration.state</c> of one server's meters, by registry.</summary>
internal sealed class StateListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Registry, string State), int> _values = new();

    public StateListener(IMeterFactory meters)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == "mesh.server.registration.state" && ReferenceEquals(instrument.Meter.Scope, meters))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            string? registry = null, state = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "mesh.registration.registry")
                {
                    registry = (string)tag.Value!;
                }
                else if (tag.Key == "mesh.registration.state")
                {
                    state = (string)tag.Value!;
                }
            }

            if (registry is not null && state is not null)
            {
                _values[(registry, state)] = value;
            }
        });
        _listener.Start();
    }

    public bool Current(string registry, string state)
    {
        _listener.RecordObservableInstruments();
        return _values.GetValueOrDefault((registry, state)) == 1 && _values.Count(v => v.Key.Registry == registry && v.Value == 1) == 1;
    }

    public void Dispose() => _listener.Dispose();
}
