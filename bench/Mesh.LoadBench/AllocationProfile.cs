using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Mesh.LoadBench;

/// <summary>
/// Which types a configuration allocates, for <c>--alloc-profile</c>: the runtime's allocation ticks (one about every
/// 100 KB allocated, naming the type of the object that crossed the mark) counted by type while it is not disposed.
/// A sample, not a count: the shares are those of the bytes, the exact total per request is the row's own figure.
/// </summary>
internal sealed class AllocationProfile : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private volatile bool _recording;

    public AllocationProfile() => _recording = true;

    /// <summary>Gets the bytes the ticks stand for, by type name.</summary>
    public IReadOnlyDictionary<string, long> Bytes => _bytes;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_recording || eventData.EventName is null || !eventData.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.PayloadNames is not { } names)
        {
            return;
        }

        var type = names.IndexOf("TypeName") is var t and >= 0 ? eventData.Payload![t] as string ?? "?" : "?";
        var amount = names.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(eventData.Payload![a], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        _bytes.AddOrUpdate(type, amount, (_, sum) => sum + amount);
    }

    public override void Dispose()
    {
        _recording = false;
        base.Dispose();
    }
}
