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
        Assert.Matches(@"b1 stopped \(connections refused\)\s+\d+\s+\d+\s+\d+\s+\d+\s+0\s*$", Line(text, "b1 stopped"));
        Assert.Contains("Resilience", text, StringComparison.Ordinal);

        // A stopped backend and a 30% failing one cost no call; the rate limit lets the burst through and fails the rest fast.
        Assert.Matches(@"p1 answers 503 to 30% of requests\s+(\d+)\s+\1\s+0\s+0\s", Line(text, "p1 answers 503"));
        Assert.Matches(@"p2 stopped: refused, then ejected\s+(\d+)\s+\1\s+0\s+0\s", Line(text, "p2 stopped"));
        var limited = System.Text.RegularExpressions.Regex.Match(Line(text, "rate limit 100/s"), @"at once\s+300\s+(\d+)\s+0\s+(\d+)\s");
        Assert.True(limited.Success, Line(text, "rate limit 100/s"));
        Assert.InRange(int.Parse(limited.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 20, 60);
        Assert.Equal(300, int.Parse(limited.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + int.Parse(limited.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("Observability", text, StringComparison.Ordinal);
        Assert.Matches(@"inventory\s+\d+\s+[\d.]+\s+100\.0 %", Line(text, "inventory  "));
        Assert.Contains("GET inventory: success, 2 attempts", text, StringComparison.Ordinal);
        Assert.Contains("retry after status 503", text, StringComparison.Ordinal);
        Assert.Matches(@"unary calls, round robin\s+(\d+)\s+\1\s+0\s", Line(text, "unary calls, round robin"));
        Assert.Matches(@"i0 answers UNAVAILABLE, then is ejected\s+(\d+)\s+\1\s+0\s", Line(text, "i0 answers UNAVAILABLE"));
        Assert.Matches(@"i1 stopped\s+(\d+)\s+\1\s+0\s", Line(text, "i1 stopped"));
        Assert.Contains("DeadlineExceeded", text, StringComparison.Ordinal);
        Assert.EndsWith("Done.", text.TrimEnd(), StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', text);
    }

    private static string Line(string text, string start) =>
        text.Split('\n').Single(l => l.TrimStart().StartsWith(start, StringComparison.Ordinal));
}
