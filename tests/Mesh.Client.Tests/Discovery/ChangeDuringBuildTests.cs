using Mesh.Discovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;

namespace Mesh.Client.Tests.Discovery;

/// <summary>A source's change that lands while the mesh builds its first snapshot is not lost.</summary>
public sealed class ChangeDuringBuildTests : IAsyncLifetime
{
    private TestBackend[] _backends = [];

    public async Task InitializeAsync() => _backends = await TestBackend.StartManyAsync(2);

    public async Task DisposeAsync() => await _backends.DisposeAllAsync();

    [Fact]
    public async Task A_change_signalled_during_the_first_build_is_applied()
    {
        using var source = new MovingSource(_backends[0].Address, _backends[1].Address);
        using var host = MeshTestHost.Create([], services => services.AddSingleton<IEndpointSource>(source));

        // The first build reads the first address, and the source moves to the second while it builds.
        await Eventually.WaitAsync(
            async () => (await TestBackend.ReadEchoAsync(await host.Client.GetAsync(new Uri("http://moving/")))).Backend == _backends[1].Name,
            "calls to reach the endpoint the source moved to during the first build",
            TimeSpan.FromSeconds(10));
        Assert.True(source.Reads >= 2, $"the source was read {source.Reads} time(s)");
    }

    /// <summary>Answers its first address once, then signals a change to its second as it is first read.</summary>
    private sealed class MovingSource(Uri first, Uri second) : IEndpointSource, IDisposable
    {
        private readonly Lock _lock = new();
        private CancellationTokenSource _changed = new();
        private int _reads;

        public string Name => "moving";

        public int Reads => Volatile.Read(ref _reads);

        public IReadOnlyCollection<string> GetServiceNames() => ["moving"];

        public bool TryGetEndpoints(string serviceName, MeshServiceOptions service, out IReadOnlyList<MeshEndpoint> endpoints)
        {
            CancellationTokenSource? fire = null;
            lock (_lock)
            {
                var read = ++_reads;
                endpoints = [new MeshEndpoint(read == 1 ? first : second)];
                if (read == 1)
                {
                    fire = _changed;
                    _changed = new CancellationTokenSource();
                }
            }

            fire?.Cancel();
            fire?.Dispose();
            return true;
        }

        public void Dispose() => _changed.Dispose();

        public IChangeToken GetChangeToken()
        {
            lock (_lock)
            {
                return new CancellationChangeToken(_changed.Token);
            }
        }
    }
}
