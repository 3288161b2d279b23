namespace Mesh.Testing;

/// <summary>A fresh directory under the system's temporary directory, deleted with everything in it at the end.</summary>
public sealed class TempDirectory : IDisposable
{
    /// <summary>Creates the directory; its name starts with <paramref name="prefix"/>.</summary>
    public TempDirectory(string prefix = "mesh-test-")
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
    }

    /// <summary>Gets the full path of the directory.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A file still held open is left to the temporary directory's own cleanup.
        }
    }
}
