namespace Mesh.Chaos.Tests;

/// <summary>Every scenario ends within its own deadline, or fails saying so.</summary>
internal static class Scenario
{
    /// <summary>Runs <paramref name="scenario"/>; fails when it has not ended within <paramref name="deadline"/> (90 s by default).</summary>
    public static async Task WithinDeadline(Func<Task> scenario, TimeSpan? deadline = null)
    {
        var limit = deadline ?? TimeSpan.FromSeconds(90);
        var run = scenario();
        var finished = await Task.WhenAny(run, Task.Delay(limit));
        Assert.True(finished == run, $"the scenario did not end within {limit.TotalSeconds} s");
        await run;
    }

    /// <summary>Waits until the traffic has run <paramref name="seconds"/> seconds.</summary>
    public static Task At(Traffic traffic, double seconds) =>
        Eventually.WaitAsync(() => traffic.Elapsed.TotalSeconds >= seconds, $"{seconds} s of traffic", TimeSpan.FromSeconds(seconds + 60));
}
