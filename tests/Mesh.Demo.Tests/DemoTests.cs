using System.Diagnostics;

namespace Mesh.Demo.Tests;

/// <summary>The README's first command: the demo runs to its end by itself, shows every scene, and leaves no process behind.</summary>
public sealed class DemoTests
{
    [Fact]
    public async Task The_demo_runs_every_scene_and_ends_by_itself()
    {
        var demo = Path.Combine(AppContext.BaseDirectory, "Mesh.Demo.dll");
        var start = new ProcessStartInfo("dotnet", [demo, "--quick"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));

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
        }

        var text = await output;
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}\n{text}\n{await error}");
        Assert.Contains("Load balancing", text, StringComparison.Ordinal);
        Assert.Contains("Discovery", text, StringComparison.Ordinal);
        Assert.Matches(@"PeakEwma\s+\d+", text);
        Assert.Matches(@"b1 stopped \(connections refused\)\s+\d+\s+\d+\s+\d+\s+\d+\s+0\s*$", text.Split('\n').Single(l => l.Contains("b1 stopped", StringComparison.Ordinal)));
        Assert.EndsWith("Done.", text.TrimEnd(), StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', text);
    }
}
