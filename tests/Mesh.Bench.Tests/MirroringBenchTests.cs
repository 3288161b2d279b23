using System.Text.Json;
using System.Text.RegularExpressions;

namespace Mesh.Bench.Tests;

/// <summary>The load bench's mirroring smoke run completes by itself, prints its three rows and writes JSON whose copies went where they should. Speed is never asserted.</summary>
public sealed class MirroringBenchTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), $"mesh-mirroring-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_out);

    [Fact]
    public async Task The_mirroring_smoke_run_reports_every_row()
    {
        var run = await ChildProcess.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "Mesh.LoadBench.dll"), "mirroring", "--smoke", "--out", _out], TimeSpan.FromMinutes(2));
        var text = run.Output + run.Error;

        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}\n{text}");
        string[] names = ["no-mirror", "healthy-mirror-100%", "stalled-mirror-100%"];
        foreach (var name in names)
        {
            Assert.Matches(new Regex($@"^{Regex.Escape(name)}\s+\d+\s+\d+\.\d+\s+\d+\.\d+ \(", RegexOptions.Multiline), text);
        }

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(_out));
        Assert.Equal("mirroring", json.RootElement.GetProperty("mode").GetString());
        var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
        Assert.Equal(names, rows.Keys);
        foreach (var row in rows.Values)
        {
            Assert.True(row.GetProperty("issued").GetInt64() > 0);
            Assert.True(row.GetProperty("p50Ms").GetDouble() > 0);
        }

        Assert.Equal(0, rows["no-mirror"].GetProperty("mirrorReceived").GetInt64());
        Assert.True(rows["healthy-mirror-100%"].GetProperty("copiesSent").GetInt64() > 0, "the healthy mirror answered no copy");
        Assert.Equal(0, rows["stalled-mirror-100%"].GetProperty("copiesSent").GetInt64());
        Assert.True(rows["stalled-mirror-100%"].GetProperty("copiesSkipped").GetInt64() > 0, "the in-flight bound turned no copy away");
    }
}
