using System.Runtime.InteropServices;

namespace Meshd.Connections;

/// <summary>
/// The process's file-descriptor limit. meshd raises its soft limit to the hard one at start, so it can hold as many
/// connections as the system lets it, and keeps a reserve below it for its own files and its store's connections.
/// </summary>
internal static partial class Descriptors
{
    private const int RlimitNoFileLinux = 7;
    private const int RlimitNoFileMac = 8;

    /// <summary>Raises the soft limit to the hard one; the soft limit before and after, or null where there is no such limit.</summary>
    public static (long Before, long After)? RaiseToHardLimit()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return null;
        }

        var resource = OperatingSystem.IsLinux() ? RlimitNoFileLinux : RlimitNoFileMac;
        if (GetRLimit(resource, out var limit) != 0)
        {
            return null;
        }

        var before = limit.Current;
        if (limit.Current < limit.Maximum)
        {
            // An unlimited hard limit cannot be the soft one for files; a million is far beyond any meshd.
            var wanted = limit.Maximum == ulong.MaxValue ? Math.Max(limit.Current, 1_048_576UL) : limit.Maximum;
            var raised = new RLimit { Current = wanted, Maximum = limit.Maximum };
            if (SetRLimit(resource, ref raised) == 0)
            {
                limit = raised;
            }
        }

        return (Clamp(before), Clamp(limit.Current));
    }

    /// <summary>The number of descriptors open now, or null where it cannot be counted.</summary>
    public static int? Open()
    {
        try
        {
            return OperatingSystem.IsLinux() ? Directory.EnumerateFileSystemEntries("/proc/self/fd").Count() : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static long Clamp(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, ref RLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }
}
