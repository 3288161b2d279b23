using System.Diagnostics.Metrics;
using Mesh.Telemetry;

namespace Mesh.AspNetCore.Registration;

/// <summary>
/// The gauge <c>mesh.server.registration.state</c>: for each registry the instance registers with (<c>meshd</c>,
/// <c>consul</c>), 1 for the state it is in there and 0 for the others.
/// </summary>
internal sealed class RegistrationStates : IDisposable
{
    private static readonly RegistrationState[] s_states = Enum.GetValues<RegistrationState>();
    private static readonly string[] s_stateNames = ["waiting", "registered", "draining", "deregistered"];

    private readonly Meter _meter;
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, RegistrationState> _registries = new(StringComparer.Ordinal);

    public RegistrationStates(IMeterFactory meters)
    {
        _meter = meters.Create(MeshTelemetry.Name);
        _meter.CreateObservableGauge(
            "mesh.server.registration.state",
            Measure,
            "{state}",
            "Where this instance stands with each registry it registers with: 1 for the current state, 0 for the others.");
    }

    /// <summary>Records that the instance stands at <paramref name="state"/> with <paramref name="registry"/>.</summary>
    public void Set(string registry, RegistrationState state)
    {
        lock (_lock)
        {
            _registries[registry] = state;
        }
    }

    public void Dispose() => _meter.Dispose();

    private List<Measurement<int>> Measure()
    {
        var measurements = new List<Measurement<int>>();
        lock (_lock)
        {
            foreach (var (registry, current) in _registries)
            {
                foreach (var state in s_states)
                {
                    measurements.Add(new Measurement<int>(
                        state == current ? 1 : 0,
                        new KeyValuePair<string, object?>("mesh.registration.registry", registry),
                        new KeyValuePair<string, object?>("mesh.registration.state", s_stateNames[(int)state])));
                }
            }
        }

        return measurements;
    }
}
