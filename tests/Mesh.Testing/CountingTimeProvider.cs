using Microsoft.Extensions.Time.Testing;

namespace Mesh.Testing;

/// <summary>A fake clock that also counts the timers created on it, so a test can wait until a delay has started.</summary>
public sealed class CountingTimeProvider(FakeTimeProvider fake) : TimeProvider
{
    private int _timers;

    public FakeTimeProvider Fake { get; } = fake;

    public int TimersCreated => Volatile.Read(ref _timers);

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override TimeZoneInfo LocalTimeZone => Fake.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = Fake.CreateTimer(callback, state, dueTime, period);
        Interlocked.Increment(ref _timers);
        return timer;
    }
}
