using System.Collections.Concurrent;
using System.Diagnostics;

namespace Mesh.WatchBench;

/// <summary>A child process (meshd or a worker) whose output lines are queued, ended by its pid.</summary>
internal sealed class Child
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = [];

    private Child(Process process) => _process = process;

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public static Child Start(string file, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var child = new Child(Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start."));
        child._process.OutputDataReceived += (_, e) => { if (e.Data is not null) { child._lines.Add(e.Data); } };
        child._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { child._lines.Add(e.Data); } };
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    /// <summary>The next line starting with <paramref name="prefix"/> (others are skipped), within <paramref name="timeout"/>.</summary>
    public string WaitFor(string prefix, TimeSpan timeout, CancellationToken cancel)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        limit.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var line = _lines.Take(limit.Token);
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return line;
                }

                if (line.StartsWith("error", StringComparison.Ordinal) || line.Contains("Unhandled exception", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"pid {Pid}: {line}");
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"pid {Pid} printed no '{prefix}' line within {timeout.TotalSeconds} s{(_process.HasExited ? $" (exited with {_process.ExitCode})" : string.Empty)}.");
        }
    }

    public void Send(string line) => _process.StandardInput.WriteLine(line);

    /// <summary>Resident memory in KiB, from /proc.</summary>
    public long ResidentKib() =>
        long.Parse(File.ReadLines($"/proc/{Pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>CPU time used so far (user and system), from /proc, in milliseconds (10 ms ticks).</summary>
    public double CpuMilliseconds()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) * 10.0;
    }

    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
    }
}
