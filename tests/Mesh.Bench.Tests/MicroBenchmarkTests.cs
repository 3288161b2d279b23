using System.Text.RegularExpressions;

namespace Mesh.Bench.Tests;

/// <summary>Every BenchmarkDotNet benchmark runs once to its end (a smoke run in this process, seconds long); nothing is timed.</summary>
public sealed class MicroBenchmarkTests
{
    [Fact]
    public async Task Every_micro_benchmark_runs()
    {
        // From its own output folder, with its own dependencies (the test's folder holds the test's).
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var bench = Path.Combine(ChildProcess.RepositoryRoot, "bench", "Mesh.Benchmarks", "bin", testOutput.Parent!.Name, testOutput.Name, "Mesh.Benchmarks.dll");
        var artifacts = Directory.CreateTempSubdirectory("mesh-bdn-");
        ChildProcess.Result run;
        try
        {
            run = await ChildProcess.RunAsync("dotnet", [bench, "--smoke", "--filter", "*", "--artifacts", artifacts.FullName], TimeSpan.FromMinutes(3));
        }
        finally
        {
            artifacts.Delete(recursive: true);
        }

        var text = run.Output;
        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}\n{text}\n{run.Error}");

        // 5 clients × 3 endpoint counts, twice (answering at once, and after a wait), 5 balancers × 3, telemetry off and on,
        // mesh-explain off and on with their three parts alone: a benchmark that did not run changes the total.
        Assert.Matches(@"Global total time: .*executed benchmarks: 52", text);
        foreach (var row in new[] { "Bare", "Factory", "Meshed", "MeshedWithoutFactoryLogging", "Standard", "MeshedCall", "PickAndComplete" })
        {
            Assert.Matches(new Regex($@"^\| {row} +\|", RegexOptions.Multiline), text);
        }
    }
}
