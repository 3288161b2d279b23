using System.Diagnostics;

namespace Mesh.AspNetCore.Telemetry;

/// <summary>
/// The process's propagator, with W3C Trace Context's rule for versions it does not know yet: a <c>traceparent</c> of a
/// higher version (not <c>ff</c>) whose first 55 characters read as version 00 and which goes on, if at all, with a
/// dash, is continued as version 00. Everything else is left to the inner propagator.
/// </summary>
internal sealed class TraceContextPropagator(DistributedContextPropagator inner) : DistributedContextPropagator
{
    private const string TraceParent = "traceparent";
    private const int Version00Length = 55;

    public override IReadOnlyCollection<string> Fields => inner.Fields;

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter) =>
        inner.Inject(activity, carrier, setter);

    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState) =>
        inner.ExtractTraceIdAndState(carrier, Wrap(getter), out traceId, out traceState);

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) =>
        inner.ExtractBaggage(carrier, getter);

    /// <summary>Reads a future-version traceparent as version 00, as the specification asks; null when it cannot.</summary>
    internal static string? AsVersion00(string value)
    {
        if (value.Length < Version00Length || value[2] != '-' || !IsHex(value[0]) || !IsHex(value[1])
            || value.StartsWith("00", StringComparison.Ordinal) || value.StartsWith("ff", StringComparison.OrdinalIgnoreCase)
            || (value.Length > Version00Length && value[Version00Length] != '-'))
        {
            return null;
        }

        return string.Concat("00", value.AsSpan(2, Version00Length - 2));
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c);

    private static PropagatorGetterCallback? Wrap(PropagatorGetterCallback? getter) =>
        getter is null ? null : (object? carrier, string field, out string? value, out IEnumerable<string>? values) =>
        {
            getter(carrier, field, out value, out values);
            if (value is not null && string.Equals(field, TraceParent, StringComparison.OrdinalIgnoreCase) && AsVersion00(value) is { } rewritten)
            {
                value = rewritten;
            }
        };
}
