using System.Diagnostics;

namespace Mesh.LoadBench;

/// <summary>
/// The processes this program starts (its own <c>serve</c> mode, nginx): each is remembered by its pid and ended by
/// that pid on the way out, whether the run ends, fails or is interrupted; no other process is touched.
/// </summary>
internal static class ChildProcesses
{
    private static readonly List<Process> Started = [];

    static ChildProcesses()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAll();
    }

    public static Process Start(ProcessStartInfo start)
    {
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
        lock (Started)
        {
            Started.Add(process);
        }

        return process;
    }

    /// <summary>Starts this program again with <paramref name="args"/>, whether it runs as <c>dotnet Mesh.LoadBench.dll</c> or as its own executable.</summary>
    public static ProcessStartInfo Self(params string[] args)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var start = Path.GetFileNameWithoutExtension(host) == "dotnet"
            ? new ProcessStartInfo(host, [typeof(ChildProcesses).Assembly.Location, .. args])
            : new ProcessStartInfo(host, args);
        start.UseShellExecute = false;
        return start;
    }

    public static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // It had already gone.
        }

        lock (Started)
        {
            Started.Remove(process);
        }

        process.Dispose();
    }

    public static void StopAll()
    {
        Process[] all;
        lock (Started)
        {
            all = [.. Started];
        }

        foreach (var process in all)
        {
            Stop(process);
        }
    }
}
