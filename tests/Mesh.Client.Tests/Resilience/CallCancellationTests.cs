using Mesh.Resilience;

namespace Mesh.Client.Tests.Resilience;

/// <summary>The per-call cancellation: fires for its delay or for the caller, and a source that fired is never handed out again.</summary>
public sealed class CallCancellationTests
{
    [Fact]
    public async Task It_fires_after_its_delay_and_a_fired_source_is_not_reused()
    {
        var fired = CallCancellation.Start(TimeSpan.FromMilliseconds(20), TimeProvider.System, reusable: true, CancellationToken.None);
        var token = fired.Token;
        await Eventually.WaitAsync(() => token.IsCancellationRequested, "the delay fired", TimeSpan.FromSeconds(10));
        fired.Dispose();

        for (var i = 0; i < 100; i++)
        {
            using var next = CallCancellation.Start(TimeSpan.FromMinutes(1), TimeProvider.System, reusable: true, CancellationToken.None);
            Assert.False(next.IsCancellationRequested);
            Assert.NotEqual(token, next.Token);
        }
    }

    [Fact]
    public void The_callers_cancellation_reaches_it_and_a_returned_source_comes_back_clean()
    {
        using var caller = new CancellationTokenSource();
        var first = CallCancellation.Start(TimeSpan.FromMinutes(1), TimeProvider.System, reusable: true, caller.Token);
        var reused = first.Token;
        first.Dispose();

        // The caller of a finished call cancels: nothing it registered may reach the next call's source.
        caller.Cancel();
        using var second = CallCancellation.Start(TimeSpan.FromMinutes(1), TimeProvider.System, reusable: true, CancellationToken.None);
        Assert.False(second.IsCancellationRequested);
        Assert.False(reused.IsCancellationRequested);

        using var third = new CancellationTokenSource();
        using var linked = CallCancellation.Start(TimeSpan.FromMinutes(1), TimeProvider.System, reusable: true, third.Token);
        third.Cancel();
        Assert.True(linked.IsCancellationRequested);
    }

    [Fact]
    public void On_an_injected_clock_it_fires_when_that_clock_says()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var cancellation = CallCancellation.Start(TimeSpan.FromSeconds(5), time, reusable: true, CancellationToken.None);

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(cancellation.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(cancellation.IsCancellationRequested);
    }
}
