using System.Diagnostics;
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
        var root = testOutput;
        while (!File.Exists(Path.Combine(root.FullName, "Mesh.Library.sln")))
        {
            root = root.Parent ?? throw new InvalidOperationException("Mesh.Library.sln not found above " + testOutput);
        }

        var configuration = testOutput.Parent!.Name;
        var bench = Path.Combine(root.FullName, "bench", "Mesh.Benchmarks", "bin", configuration, testOutput.Name, "Mesh.Benchmarks.dll");
        var artifacts = Directory.CreateTempSubdirectory("mesh-bdn-");
        var start = new ProcessStartInfo("dotnet", [bench, "--smoke", "--filter", "*", "--artifacts", artifacts.FullName])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            artifacts.Delete(recursive: true);
        }

        var text = await output;
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}\n{text}\n{await error}");

        // 5 clients × 3 endpoint counts, twice (answering at once, and after a wait), 5 balancers × 3, telemetry off and on: a benchmark that did not run changes the total.
        Assert.Matches(@"Global total time: .*executed benchmarks: 47", text);
        foreach (var row in new[] { "Bare", "Factory", "Meshed", "MeshedWithoutFactoryLogging", "Standard", "MeshedCall", "PickAndComplete" })
        {
            Assert.Matches(new Regex($@"^\| {row} +\|", RegexOptions.Multiline), text);
        }
    }
}
