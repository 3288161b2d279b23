using System.Text;
using Meshd.Storage;

namespace Meshd.Identity;

/// <summary>
/// How the CA writes its files: to a temporary file flushed to disk, renamed over the old one, the directory flushed, so
/// a crash leaves the old file or the new one; keys and their directories owner-only (0600 and 0700) from creation on.
/// </summary>
internal static partial class CaFiles
{
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PublicFile = OwnerOnlyFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>Creates a directory (its parents as usual) and makes it owner-only (0700), even if it was there before.</summary>
    public static void CreateDirectory(string path)
    {
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, OwnerOnlyDirectory);
        }
    }

    /// <summary>Replaces <paramref name="path"/> with <paramref name="content"/> in one step; <paramref name="secret"/> files are owner-only (0600).</summary>
    public static void Write(string path, string content, bool secret)
    {
        var temp = path + ".tmp";
        File.Delete(temp);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // Set at creation, so the key is never readable by others, not even for a moment.
            options.UnixCreateMode = secret ? OwnerOnlyFile : PublicFile;
        }

        try
        {
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(Encoding.UTF8.GetBytes(content));
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
            DirectorySync.Flush(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Removes leftovers of writes that crashed before their rename.</summary>
    public static void RemoveLeftovers(string directory)
    {
        foreach (var leftover in Directory.EnumerateFiles(directory, "*.tmp", SearchOption.AllDirectories))
        {
            File.Delete(leftover);
        }
    }
}
