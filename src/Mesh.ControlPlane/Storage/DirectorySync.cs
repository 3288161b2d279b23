using System.Runtime.InteropServices;

namespace Meshd.Storage;

/// <summary>Flushes a directory to disk, which makes a rename inside it durable; .NET has no API for that, so libc is asked.</summary>
internal static partial class DirectorySync
{
    /// <summary>Flushes <paramref name="directory"/>; nothing on Windows, where a rename needs no such step to be kept.</summary>
    /// <exception cref="IOException">The directory could not be opened or flushed.</exception>
    public static void Flush(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var fd = Native.Open(directory, 0);
        if (fd < 0)
        {
            throw new IOException($"Could not open directory '{directory}' to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Native.Fsync(fd) != 0)
            {
                throw new IOException($"Could not flush directory '{directory}' (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Native.Close(fd);
        }
    }

    private static partial class Native
    {
        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        public static partial int Fsync(int fd);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);
    }
}
