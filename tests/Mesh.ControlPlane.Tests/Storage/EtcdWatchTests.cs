using System.Runtime.CompilerServices;
using System.Text;
using Etcdserverpb;
using Grpc.Net.Client;
using Meshd.Registry;
using Meshd.Storage;
using Meshd.Tests.Infrastructure;
using Meshd.Watch;
using Microsoft.Extensions.Logging.Abstractions;

namespace Meshd.Tests.Storage;

[Collection(EtcdGroup.Name)]
public sealed class EtcdWatchTests(EtcdServer etcd)
{
    [Fact]
    public async Task The_state_resumes_from_its_last_revision_after_a_break_and_lists_again_after_a_compaction()
    {
        var store = new BreakableStore(new EtcdKeyValueStore(etcd.Endpoint, $"/mesh-test-{Guid.NewGuid():N}/"));
        await using var state = new MeshState(store, TimeProvider.System, TimeSpan.FromMinutes(1), NullLogger<MeshState>.Instance);
        await state.StartAsync(CancellationToken.None);
        await RegisterAsync(store, "one");
        await Eventually.WaitAsync(() => Task.FromResult(Has(state, "one")), "the first instance");
        var applied = state.AppliedRevision;

        // A break: a write lands while no watch runs; the next watch starts after the last applied revision.
        store.BeforeNextWatch = () => RegisterAsync(store, "two");
        store.Break();
        await Eventually.WaitAsync(() => Task.FromResult(Has(state, "two")), "the instance written during the break");
        Assert.Equal(applied + 1, store.WatchedFrom[^1]);
        Assert.Equal(1, store.Listings);

        // A compaction past the resume point (two writes, then compaction at the last): the watch is refused and the state lists everything again.
        store.BeforeNextWatch = async () =>
        {
            await RegisterAsync(store, "three");
            await RegisterAsync(store, "three-b");
            await CompactAsync();
        };
        store.Break();
        await Eventually.WaitAsync(() => Task.FromResult(Has(state, "three")), "the instance written before the compaction");
        Assert.Equal(2, store.Listings);
        Assert.True(Has(state, "one") && Has(state, "two"));

        // And it follows changes after that.
        await RegisterAsync(store, "four");
        await Eventually.WaitAsync(() => Task.FromResult(Has(state, "four")), "an instance written after the re-listing");
    }

    private static bool Has(MeshState state, string id) =>
        Encoding.UTF8.GetString(state.Head.Snapshot.Utf8Json).Contains($"\"instanceId\":\"{id}\"", StringComparison.Ordinal);

    private static Task<StoreCommit> RegisterAsync(IKeyValueStore store, string id) =>
        store.CommitAsync([], [StoreOperation.Put(StoreKeys.Instance("inventory", id), Instances.ToUtf8(new Mesh.ControlPlane.Contract.InstanceDocument(id, "http://127.0.0.1:5001")))], CancellationToken.None);

    private async Task CompactAsync()
    {
        using var channel = GrpcChannel.ForAddress(etcd.Endpoint);
        var kv = new KV.KVClient(channel);
        var revision = (await kv.RangeAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("/") })).Header.Revision;
        await kv.CompactAsync(new CompactionRequest { Revision = revision, Physical = true });
    }

    /// <summary>A store whose watch can be broken on demand, recording where each watch starts.</summary>
    private sealed class BreakableStore(IKeyValueStore inner) : IKeyValueStore
    {
        private CancellationTokenSource _break = new();

        public Func<Task>? BeforeNextWatch { get; set; }

        public List<long> WatchedFrom { get; } = [];

        public int Listings { get; private set; }

        public void Break() => _break.Cancel();

        public Task<KeyValueEntry?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

        public Task<StoreListing> ListAsync(string prefix, CancellationToken cancellationToken)
        {
            Listings++;
            return inner.ListAsync(prefix, cancellationToken);
        }

        public Task<StoreCommit> CommitAsync(IReadOnlyList<StoreCompare> compares, IReadOnlyList<StoreOperation> operations, CancellationToken cancellationToken) =>
            inner.CommitAsync(compares, operations, cancellationToken);

        public Task ProbeAsync(CancellationToken cancellationToken) => inner.ProbeAsync(cancellationToken);

        public async IAsyncEnumerable<StoreWatchBatch> WatchAsync(string prefix, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            if (BeforeNextWatch is { } before)
            {
                BeforeNextWatch = null;
                await before();
            }

            WatchedFrom.Add(fromRevision);
            _break.Dispose();
            _break = new CancellationTokenSource();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _break.Token);
            var broken = _break.Token;
            await using var enumerator = inner.WatchAsync(prefix, fromRevision, linked.Token).GetAsyncEnumerator(linked.Token);
            while (true)
            {
                bool moved;
                try
                {
                    moved = await enumerator.MoveNextAsync();
                }
                catch (Exception ex) when (broken.IsCancellationRequested && ex is OperationCanceledException or global::Grpc.Core.RpcException)
                {
                    throw new IOException("The watch broke.", ex);
                }

                if (!moved)
                {
                    yield break;
                }

                yield return enumerator.Current;
            }
        }

        public ValueTask DisposeAsync()
        {
            _break.Dispose();
            return inner.DisposeAsync();
        }
    }
}
