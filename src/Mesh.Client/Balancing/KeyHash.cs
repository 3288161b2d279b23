namespace Mesh.Balancing;

/// <summary>A stable 64-bit hash of a string (FNV-1a over UTF-16 units, then a 64-bit finalizer for avalanche).</summary>
internal static class KeyHash
{
    private const ulong OffsetBasis = 14695981039346656037;
    private const ulong Prime = 1099511628211;

    public static ulong Of(ReadOnlySpan<char> key)
    {
        var hash = OffsetBasis;
        foreach (var c in key)
        {
            hash = (hash ^ c) * Prime;
        }

        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccd;
        hash ^= hash >> 33;
        hash *= 0xc4ceb9fe1a85ec53;
        hash ^= hash >> 33;
        return hash;
    }
}
