using System.Diagnostics;

namespace Mesh.Telemetry;

/// <summary>
/// The mesh's propagator, both ways: <c>traceparent</c> and <c>tracestate</c> are read and written by the rules of
/// <see cref="W3CTraceContext"/>; baggage, and activities that are not W3C, are left to the propagator it wraps.
/// Installed by <c>AddMeshServer()</c> for incoming requests and by <c>AddMesh()</c> on a client's
/// <see cref="SocketsHttpHandler"/> for outgoing attempts.
/// </summary>
internal sealed class TraceContextPropagator : DistributedContextPropagator
{
    private readonly DistributedContextPropagator _inner;
    private readonly IReadOnlyCollection<string> _fields;

    private TraceContextPropagator(DistributedContextPropagator inner)
    {
        _inner = inner;
        _fields = [W3CTraceContext.TraceParent, W3CTraceContext.TraceState, .. inner.Fields.Where(static f => !IsOurs(f))];
    }

    /// <summary>Wraps <paramref name="inner"/>, unless it already is the mesh's.</summary>
    public static TraceContextPropagator Over(DistributedContextPropagator inner) =>
        inner as TraceContextPropagator ?? new TraceContextPropagator(inner);

    /// <inheritdoc />
    public override IReadOnlyCollection<string> Fields => _fields;

    /// <inheritdoc />
    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter)
    {
        if (activity is null || setter is null || activity.IdFormat != ActivityIdFormat.W3C)
        {
            _inner.Inject(activity, carrier, setter);
            return;
        }

        setter(carrier, W3CTraceContext.TraceParent, W3CTraceContext.TraceParentOf(activity));

        // The state was checked when it arrived; the application may have set another since, so it is checked again.
        if (W3CTraceContext.TryParseTraceState(activity.TraceStateString, out var state) && state is not null)
        {
            setter(carrier, W3CTraceContext.TraceState, state);
        }

        if (activity.Baggage.Any())
        {
            _inner.Inject(activity, carrier, (c, field, value) =>
            {
                if (!IsOurs(field))
                {
                    setter(c, field, value);
                }
            });
        }
    }

    /// <inheritdoc />
    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState)
    {
        traceId = null;
        traceState = null;
        if (getter is null || !W3CTraceContext.TryParseTraceParent(Single(carrier, getter, W3CTraceContext.TraceParent), out var traceParent, out _))
        {
            // Without a valid traceparent the trace starts here, and the tracestate is not read.
            return;
        }

        traceId = traceParent;
        traceState = W3CTraceContext.TryParseTraceState(Joined(carrier, getter, W3CTraceContext.TraceState), out var state) ? state : null;
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) =>
        _inner.ExtractBaggage(carrier, getter);

    private static bool IsOurs(string field) =>
        string.Equals(field, W3CTraceContext.TraceParent, StringComparison.OrdinalIgnoreCase)
        || string.Equals(field, W3CTraceContext.TraceState, StringComparison.OrdinalIgnoreCase);

    // One field only: two traceparent fields make none.
    private static string? Single(object? carrier, PropagatorGetterCallback getter, string field)
    {
        getter(carrier, field, out var value, out var values);
        if (value is not null)
        {
            return value;
        }

        string? single = null;
        foreach (var v in values ?? [])
        {
            if (single is not null)
            {
                return null;
            }

            single = v;
        }

        return single;
    }

    // Several fields are one list, in the order received.
    private static string? Joined(object? carrier, PropagatorGetterCallback getter, string field)
    {
        getter(carrier, field, out var value, out var values);
        return value ?? (values is null ? null : string.Join(',', values));
    }
}
