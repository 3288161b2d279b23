using System.Diagnostics;
using OpenTelemetry;

namespace Mesh.Client.Tests.Telemetry;

/// <summary>
/// Collects a test's finished spans, and only its own: a tracer provider listens process-wide, so the spans of tests
/// running beside it would reach an exporter's list too (and change it while it is read). By default it keeps the
/// spans of the traces begun with <see cref="StartTrace"/> (the calls made under that root and the servers they reach,
/// which continue its trace); with a filter, those the filter takes. Read with <see cref="Snapshot"/>.
/// </summary>
internal sealed class SpanCollector(Func<Activity, bool>? filter = null) : BaseProcessor<Activity>
{
    private readonly Lock _gate = new();
    private readonly List<Activity> _spans = [];
    private readonly HashSet<ActivityTraceId> _traces = [];

    /// <summary>Starts a sampled root span, the current one until disposed, whose trace is this test's.</summary>
    public Activity StartTrace(string name = "test")
    {
        var root = new Activity(name);
        root.SetIdFormat(ActivityIdFormat.W3C);
        root.ActivityTraceFlags = ActivityTraceFlags.Recorded;
        root.Start();
        lock (_gate)
        {
            _traces.Add(root.TraceId);
        }

        return root;
    }

    /// <summary>Gets the spans collected so far.</summary>
    public List<Activity> Snapshot()
    {
        lock (_gate)
        {
            return [.. _spans];
        }
    }

    public override void OnEnd(Activity data)
    {
        lock (_gate)
        {
            if (filter is null ? _traces.Contains(data.TraceId) : filter(data))
            {
                _spans.Add(data);
            }
        }
    }
}
