namespace Mesh.Testing;

/// <summary>Helpers over groups of backends.</summary>
public static class TestBackendExtensions
{
    /// <summary>Stops every backend of the group.</summary>
    public static async Task DisposeAllAsync(this IEnumerable<TestBackend> backends)
    {
        ArgumentNullException.ThrowIfNull(backends);
        foreach (var backend in backends)
        {
            await backend.DisposeAsync().ConfigureAwait(false);
        }
    }
}
