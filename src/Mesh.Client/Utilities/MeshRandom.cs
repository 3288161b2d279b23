namespace Mesh.Utilities;

/// <summary>The random source of balancers and jitter; seedable so tests are repeatable.</summary>
internal abstract class MeshRandom
{
    /// <summary>Gets the process-wide, thread-safe source.</summary>
    public static MeshRandom Shared { get; } = new SharedRandom();

    /// <summary>Creates a thread-safe source whose sequence is fixed by <paramref name="seed"/>.</summary>
    public static MeshRandom Seeded(int seed) => new SeededRandom(seed);

    /// <summary>Returns a number in [0, <paramref name="maxExclusive"/>).</summary>
    public abstract int Next(int maxExclusive);

    /// <summary>Returns a number in [0, 1).</summary>
    public double NextDouble() => Next(int.MaxValue) / (double)int.MaxValue;

    private sealed class SharedRandom : MeshRandom
    {
        public override int Next(int maxExclusive) => Random.Shared.Next(maxExclusive);
    }

    private sealed class SeededRandom(int seed) : MeshRandom
    {
#pragma warning disable CA5394 // Balancing needs spread, not secrecy.
        private readonly Random _random = new(seed);
#pragma warning restore CA5394
        private readonly Lock _lock = new();

        public override int Next(int maxExclusive)
        {
            lock (_lock)
            {
#pragma warning disable CA5394 // Balancing needs spread, not secrecy.
                return _random.Next(maxExclusive);
#pragma warning restore CA5394
            }
        }
    }
}
