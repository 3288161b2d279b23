using System.Runtime.CompilerServices;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Mvccpb;

namespace Meshd.Storage;

/// <summary>
/// The store for several meshd replicas: every key lives in etcd under a prefix, writes are etcd transactions that
/// compare mod revisions (no locks), and watches stream etcd's own events from a revision.
/// </summary>
internal sealed class EtcdKeyValueStore : IKeyValueStore
{
    private readonly GrpcChannel _channel;
    private readonly KV.KVClient _kv;
    private readonly Etcdserverpb.Watch.WatchClient _watch;
    private readonly string _prefix;

    public EtcdKeyValueStore(Uri endpoint, string prefix)
    {
        _channel = GrpcChannel.ForAddress(endpoint);
        _kv = new KV.KVClient(_channel);
        _watch = new Etcdserverpb.Watch.WatchClient(_channel);
        _prefix = prefix;
    }

    public async Task<KeyValueEntry?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var response = await _kv.RangeAsync(new RangeRequest { Key = Bytes(_prefix + key) }, cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.Kvs.Count == 0 ? null : ToEntry(response.Kvs[0]);
    }

    public async Task<StoreListing> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        var start = Bytes(_prefix + prefix);
        var response = await _kv.RangeAsync(new RangeRequest { Key = start, RangeEnd = RangeEnd(start) }, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new StoreListing(response.Header.Revision, response.Kvs.Select(ToEntry).ToList());
    }

    public async Task<StoreCommit> CommitAsync(IReadOnlyList<StoreCompare> compares, IReadOnlyList<StoreOperation> operations, CancellationToken cancellationToken)
    {
        var request = new TxnRequest();
        foreach (var compare in compares)
        {
            request.Compare.Add(new Compare
            {
                Key = Bytes(_prefix + compare.Key),
                Target = Compare.Types.CompareTarget.Mod,
                Result = Compare.Types.CompareResult.Equal,
                ModRevision = compare.ModRevision,
            });
        }

        foreach (var operation in operations)
        {
            var key = Bytes(_prefix + operation.Key);
            request.Success.Add(operation.Value is null
                ? new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = key } }
                : new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFrom(operation.Value) } });
        }

        var response = await _kv.TxnAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new StoreCommit(response.Succeeded, response.Header.Revision);
    }

    public async IAsyncEnumerable<StoreWatchBatch> WatchAsync(string prefix, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var start = Bytes(_prefix + prefix);
        using var call = _watch.Watch(cancellationToken: cancellationToken);
        await call.RequestStream.WriteAsync(new WatchRequest
        {
            CreateRequest = new WatchCreateRequest { Key = start, RangeEnd = RangeEnd(start), StartRevision = fromRevision, ProgressNotify = true },
        }, cancellationToken).ConfigureAwait(false);

        while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            var response = call.ResponseStream.Current;
            if (response.CompactRevision > 0)
            {
                throw new StoreCompactedException($"Revision {fromRevision} was compacted (etcd keeps revisions from {response.CompactRevision}).");
            }

            if (response.Canceled)
            {
                throw new RpcException(new Status(StatusCode.Aborted, $"etcd cancelled the watch: {response.CancelReason}"));
            }

            if (response.Events.Count == 0)
            {
                continue;
            }

            var events = new List<StoreEvent>(response.Events.Count);
            long revision = 0;
            foreach (var item in response.Events)
            {
                var key = item.Kv.Key.ToStringUtf8()[_prefix.Length..];
                var value = item.Type == Event.Types.EventType.Delete ? null : item.Kv.Value.ToByteArray();
                events.Add(new StoreEvent(key, value, item.Kv.ModRevision));
                revision = Math.Max(revision, item.Kv.ModRevision);
            }

            yield return new StoreWatchBatch(revision, events);
        }

        throw new RpcException(new Status(StatusCode.Unavailable, "etcd closed the watch stream."));
    }

    public ValueTask DisposeAsync()
    {
        _channel.Dispose();
        return ValueTask.CompletedTask;
    }

    private KeyValueEntry ToEntry(KeyValue kv) => new(kv.Key.ToStringUtf8()[_prefix.Length..], kv.Value.ToByteArray(), kv.ModRevision);

    private static ByteString Bytes(string value) => ByteString.CopyFrom(value, Encoding.UTF8);

    private static ByteString RangeEnd(ByteString start)
    {
        // etcd's prefix range: the key with its last byte incremented.
        var end = start.ToByteArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return ByteString.CopyFrom(end, 0, i + 1);
            }
        }

        return ByteString.CopyFrom(0);
    }
}
