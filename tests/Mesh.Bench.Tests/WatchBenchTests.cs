using System.Text.Json;
using System.Text.RegularExpressions;

namespace Mesh.Bench.Tests;

/// <summary>
/// The watch bench's smoke run parks watchers from a separate process, reports every round, floods meshd past its
/// connection limit, finds it alive and serving, and leaves no process behind. Speed itself is never asserted.
/// </summary>
public sealed partial class WatchBenchTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), $"mesh-watchbench-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_out);

    [Fact]
    public async Task The_smoke_run_parks_watchers_measures_each_round_and_survives_the_flood()
    {
        var run = await ChildProcess.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "Mesh.WatchBench.dll"), "--smoke", "--out", _out], TimeSpan.FromMinutes(3));
        var text = run.Output + run.Error;

        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}\n{text}");
        Assert.Matches(new Regex(@"^200 watchers parked from 1 processes: meshd RSS \d+ -> \d+ MiB", RegexOptions.Multiline), text);
        Assert.Matches(new Regex(@"^round 2: acknowledged write to answer p50 \d+\.\d ms, p99 \d+\.\d ms", RegexOptions.Multiline), text);
        Assert.Matches(new Regex(@"^flood of 400 connections: \d+ held open, \d+ refused with 503, \d+ closed; meshd alive, /healthz 200", RegexOptions.Multiline), text);

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_out));
        Assert.Equal(2, json.RootElement.GetProperty("rounds").GetArrayLength());
        Assert.True(json.RootElement.GetProperty("flood").GetProperty("meshdAlive").GetBoolean());
        Assert.True(json.RootElement.GetProperty("flood").GetProperty("refused503").GetInt64() + json.RootElement.GetProperty("flood").GetProperty("closed").GetInt64() > 0);

        // meshd and the worker processes were ended by the bench itself.
        var pid = int.Parse(PidPattern().Match(text).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var stat = $"/proc/{pid}/stat";
        Assert.False(File.Exists(stat) && !File.ReadAllText(stat).Contains(") Z ", StringComparison.Ordinal), $"meshd (pid {pid}) survived the run");
    }

    [GeneratedRegex(@"meshd pid (\d+)")]
    private static partial Regex PidPattern();
}
