using System.Diagnostics;
using System.Text;

namespace Meshd.Tests.Infrastructure;

/// <summary>
/// meshd as a real child process (<c>dotnet Mesh.ControlPlane.dll</c> from its build output), for tests that kill it
/// with SIGKILL. Killed by its pid on dispose.
/// </summary>
internal sealed class MeshdProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private MeshdProcess(Process process) => _process = process;

    public Uri Address { get; private set; } = new("http://127.0.0.1");

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts meshd with <paramref name="settings"/> (as <c>--Key=Value</c>) and waits until it serves.</summary>
    public static Task<MeshdProcess> StartAsync(IReadOnlyDictionary<string, string?> settings) => StartAsync(settings, null);

    /// <summary>
    /// Starts meshd through <c>/bin/sh</c>, which runs <paramref name="shell"/> first (such as <c>ulimit -n 1024</c>) and
    /// then becomes meshd, so the pid is meshd's.
    /// </summary>
    public static async Task<MeshdProcess> StartAsync(IReadOnlyDictionary<string, string?> settings, string? shell)
    {
        var dll = typeof(MeshdHost).Assembly.Location;
        var arguments = new List<string> { dll };
        arguments.AddRange(settings.Select(s => $"--{s.Key}={s.Value}"));
        var start = new ProcessStartInfo(shell is null ? "dotnet" : "/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (shell is null)
        {
            arguments.ForEach(start.ArgumentList.Add);
        }
        else
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add($"{shell} && exec dotnet {string.Join(' ', arguments.Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"))}");
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("meshd did not start.");
        var serving = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var self = new MeshdProcess(process);
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (self._output)
            {
                self._output.AppendLine(line);
            }

            const string Marker = "meshd: serving on ";
            if (line.StartsWith(Marker, StringComparison.Ordinal))
            {
                serving.TrySetResult(new Uri(line[Marker.Length..].Trim()));
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => serving.TrySetException(new InvalidOperationException("meshd exited before serving:\n" + self.Output));
        try
        {
            self.Address = await serving.Task.WaitAsync(TimeSpan.FromSeconds(30));
            return self;
        }
        catch
        {
            process.Kill();
            process.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
            _process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
