using System.Diagnostics;

namespace Mesh.Chaos.Tests;

/// <summary>One sample of this process's resources: open descriptors (<c>/proc/self/fd</c>), sockets among them, memory, threads.</summary>
internal readonly record struct Resources(int Descriptors, int Sockets, long ManagedBytes, long WorkingSet, int Threads, int PoolThreads)
{
    public static Resources Sample()
    {
        var descriptors = 0;
        var sockets = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            descriptors++;
            try
            {
                if (new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                {
                    sockets++;
                }
            }
            catch (IOException)
            {
                // Closed while listed.
            }
        }

        using var self = Process.GetCurrentProcess();
        return new(descriptors, sockets, GC.GetTotalMemory(false), self.WorkingSet64, self.Threads.Count, ThreadPool.ThreadCount);
    }

    public override string ToString() =>
        $"fds {Descriptors}, sockets {Sockets}, managed {ManagedBytes >> 20} MiB, working set {WorkingSet >> 20} MiB, threads {Threads}, pool threads {PoolThreads}";
}
