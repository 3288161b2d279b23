using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Mvccpb;

namespace Meshd.Storage;

/// <summary>
/// The store for several meshd replicas: every key lives in etcd under a prefix, writes are etcd transactions that
/// compare mod revisions (no locks), and watches stream etcd's own events from a revision. Over https the server is
/// checked against <c>Meshd:Etcd:CaFile</c> (or the system's roots), meshd can present a client certificate, and
/// with a user name and password every call carries an etcd auth token, fetched again when etcd says it expired.
/// </summary>
internal sealed class EtcdKeyValueStore : IKeyValueStore
{
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(10);
    private readonly GrpcChannel _channel;
    private readonly KV.KVClient _kv;
    private readonly Etcdserverpb.Watch.WatchClient _watch;
    private readonly Auth.AuthClient _auth;
    private readonly string _prefix;
    private readonly Uri _endpoint;
    private readonly EtcdSecurity _security;
    private readonly SemaphoreSlim _authenticating = new(1, 1);
    private string? _token;

    public EtcdKeyValueStore(Uri endpoint, string prefix)
        : this(endpoint, prefix, new EtcdSecurity())
    {
    }

    public EtcdKeyValueStore(Uri endpoint, string prefix, EtcdSecurity security)
    {
        _endpoint = endpoint;
        _security = security;
        _channel = GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions { HttpHandler = Handler(endpoint, security), DisposeHttpClient = true });
        _kv = new KV.KVClient(_channel);
        _watch = new Etcdserverpb.Watch.WatchClient(_channel);
        _auth = new Auth.AuthClient(_channel);
        _prefix = prefix;
    }

    public Task<KeyValueEntry?> GetAsync(string key, CancellationToken cancellationToken) => CallAsync(async options =>
    {
        var response = await _kv.RangeAsync(new RangeRequest { Key = Bytes(_prefix + key) }, options).ConfigureAwait(false);
        return response.Kvs.Count == 0 ? null : ToEntry(response.Kvs[0]);
    }, cancellationToken);

    public Task<StoreListing> ListAsync(string prefix, CancellationToken cancellationToken) => CallAsync(async options =>
    {
        var start = Bytes(_prefix + prefix);
        var response = await _kv.RangeAsync(new RangeRequest { Key = start, RangeEnd = RangeEnd(start) }, options).ConfigureAwait(false);
        return new StoreListing(response.Header.Revision, response.Kvs.Select(ToEntry).ToList());
    }, cancellationToken);

    public Task<StoreCommit> CommitAsync(IReadOnlyList<StoreCompare> compares, IReadOnlyList<StoreOperation> operations, CancellationToken cancellationToken)
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

        return CallAsync(async options =>
        {
            var response = await _kv.TxnAsync(request, options).ConfigureAwait(false);
            return new StoreCommit(response.Succeeded, response.Header.Revision);
        }, cancellationToken);
    }

    public Task ProbeAsync(CancellationToken cancellationToken) => CallAsync(
        async options => await _kv.RangeAsync(new RangeRequest { Key = Bytes(_prefix), Limit = 1, CountOnly = true }, options).ConfigureAwait(false),
        cancellationToken);

    public async IAsyncEnumerable<StoreWatchBatch> WatchAsync(string prefix, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var start = Bytes(_prefix + prefix);
        using var call = _watch.Watch(await HeadersAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken);
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
                if (response.CancelReason.Contains("auth", StringComparison.OrdinalIgnoreCase) || response.CancelReason.Contains("permission", StringComparison.OrdinalIgnoreCase))
                {
                    Volatile.Write(ref _token, null);
                }

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
        _authenticating.Dispose();
        return ValueTask.CompletedTask;
    }

    private static SocketsHttpHandler Handler(Uri endpoint, EtcdSecurity security)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        if (endpoint.Scheme != Uri.UriSchemeHttps)
        {
            return handler;
        }

        var ssl = new SslClientAuthenticationOptions();
        if (security.CaFile is { } caFile)
        {
            var roots = new X509Certificate2Collection();
            try
            {
                roots.ImportFromPemFile(caFile);
            }
            catch (CryptographicException ex)
            {
                throw new MeshdStartupException($"Meshd:Etcd:CaFile: '{Path.GetFullPath(caFile)}' holds no PEM certificate: {ex.Message}", ex);
            }

            if (roots.Count == 0)
            {
                throw new MeshdStartupException($"Meshd:Etcd:CaFile: '{Path.GetFullPath(caFile)}' holds no PEM certificate.");
            }

            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                // The name must match as usual; the chain must end at one of the configured roots only.
                if (certificate is not X509Certificate2 leaf || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(leaf);
            };
        }

        if (security.ClientCertificateFile is { } certificateFile && security.ClientKeyFile is { } keyFile)
        {
            ssl.ClientCertificates = [Security.MeshdCertificates.Load(certificateFile, keyFile, "Meshd:Etcd:ClientCertificateFile")];
        }

        handler.SslOptions = ssl;
        return handler;
    }

    private async Task<T> CallAsync<T>(Func<CallOptions, Task<T>> call, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var options = new CallOptions(await HeadersAsync(cancellationToken).ConfigureAwait(false), TimeProvider.System.GetUtcNow().UtcDateTime + s_callTimeout, cancellationToken);
            try
            {
                return await call(options).ConfigureAwait(false);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unauthenticated && _security.Username is not null && attempt == 0)
            {
                // The auth token expired (etcd's simple tokens last minutes): fetch a new one and try once more.
                Volatile.Write(ref _token, null);
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.Internal or StatusCode.Unknown
                && !cancellationToken.IsCancellationRequested)
            {
                throw new StoreUnavailableException($"meshd cannot use etcd at {_endpoint}: {ex.Status.Detail} ({ex.StatusCode}). Nothing of this request was stored.", ex);
            }
        }
    }

    private async ValueTask<Metadata?> HeadersAsync(CancellationToken cancellationToken)
    {
        if (_security.Username is not { } user || _security.Password is not { } password)
        {
            return null;
        }

        var token = Volatile.Read(ref _token);
        if (token is null)
        {
            await _authenticating.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                token = Volatile.Read(ref _token);
                if (token is null)
                {
                    try
                    {
                        var response = await _auth.AuthenticateAsync(new AuthenticateRequest { Name = user, Password = password }, deadline: TimeProvider.System.GetUtcNow().UtcDateTime + s_callTimeout, cancellationToken: cancellationToken).ConfigureAwait(false);
                        token = response.Token;
                    }
                    catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        // The password is never part of a message.
                        throw new StoreUnavailableException($"meshd cannot sign in to etcd at {_endpoint} as '{user}': {ex.Status.Detail} ({ex.StatusCode}).", ex);
                    }

                    Volatile.Write(ref _token, token);
                }
            }
            finally
            {
                _authenticating.Release();
            }
        }

        return new Metadata { { "token", token } };
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
