using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Mesh.LoadBench;

/// <summary>Percentiles, plain-text tables (no escapes, so they survive redirection) and the JSON file.</summary>
internal static class Report
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Gets the value at quantile <paramref name="q"/> of <paramref name="sorted"/> Stopwatch ticks, in milliseconds (nearest rank).</summary>
    public static double PercentileMs(long[] sorted, double q)
    {
        if (sorted.Length == 0)
        {
            return 0;
        }

        var rank = Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1);
        return sorted[rank] * 1000.0 / Stopwatch.Frequency;
    }

    public static double Ratio(double value, double baseline) => baseline > 0 ? Math.Round(value / baseline, 3) : 0;

    public static string Invariant(FormattableString text) => FormattableString.Invariant(text);

    /// <summary>Lays out rows under headers: the first column left-aligned, the others right-aligned.</summary>
    public static string Table(string[] headers, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { headers };
        all.AddRange(rows);
        var widths = Enumerable.Range(0, headers.Length).Select(c => all.Max(r => r[c].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in all)
        {
            for (var c = 0; c < row.Length; c++)
            {
                text.Append(c == 0 ? row[c].PadRight(widths[c]) : "  " + row[c].PadLeft(widths[c]));
            }

            text.Append('\n');
            if (row == headers)
            {
                text.Append(new string('-', widths.Sum() + (2 * (widths.Length - 1)))).Append('\n');
            }
        }

        return text.ToString();
    }

    public static string Number(double value, string format = "0.00") => value.ToString(format, CultureInfo.InvariantCulture);

    public static string WithRatio(double value, double ratio, string format = "0.00") =>
        Invariant($"{Number(value, format)} ({Number(ratio, "0.00")}x)");

    public static MachineInfo Machine() => new(
        CpuModel(),
        Environment.ProcessorCount,
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription,
        TimeProvider.System.GetUtcNow().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        LoadAverage());

    /// <summary>Gets the 1, 5 and 15 minute load averages, to tell whether something else ran beside the benchmark.</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    public static async Task WriteAsync<T>(string path, T document)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        await File.WriteAllTextAsync(full, JsonSerializer.Serialize(document, Json) + "\n").ConfigureAwait(false);
        Console.WriteLine($"Wrote {full}");
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }
}

/// <summary>Where a run was made.</summary>
/// <remarks><see cref="LoadAverage"/> is read at the end of the run: its 5 and 15 minute figures cover the run.</remarks>
internal sealed record MachineInfo(string Cpu, int Cores, string Os, string Runtime, string DateUtc, string LoadAverage);
