using System.Buffers.Text;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Meshd.Storage;

namespace Meshd.Security;

/// <summary>
/// Workload credentials, each bound to one service: created and revoked by the admin, kept in meshd's store (so
/// replicas on etcd share them) as the SHA-256 of the token only. A token is <c>meshcred.{id}.{secret}</c> with a
/// 256-bit random secret: the id finds the record, the digest of the whole token is compared in constant time.
/// </summary>
/// <remarks>
/// Requests are authenticated from memory: the credentials are listed at start and followed through the store's watch,
/// so a request costs no store read and works while the store is away, and a revocation on any replica reaches every
/// other one as soon as it follows the write. A replica's own writes take effect there at once.
/// </remarks>
internal sealed partial class ServiceCredentials(IKeyValueStore store, TimeProvider time, MeshdSettings settings, ILogger<ServiceCredentials> logger) : IAsyncDisposable
{
    internal const string TokenPrefix = "meshcred.";
    internal const int IdLength = 16;
    private const int SecretBytes = 32;
    private const int Attempts = 8;

    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stopping = new();

    // Per key, the store revision of the last change applied (deletions too), so a late event never undoes a newer one.
    private readonly Dictionary<string, long> _revisions = new(StringComparer.Ordinal);
    private readonly HashSet<(string Key, long Revision)> _reported = [];
    private ImmutableDictionary<string, CredentialRecord> _byId = ImmutableDictionary.Create<string, CredentialRecord>(StringComparer.Ordinal);
    private long _listedAt;
    private long _applied;
    private Task? _loop;
    private string? _watchFailure;
    private int _disposed;

    /// <summary>Gets how many credentials exist.</summary>
    public int Count => Volatile.Read(ref _byId).Count;

    /// <summary>Gets why following the store's changes of credentials fails now, or null while it follows.</summary>
    public string? WatchFailure => Volatile.Read(ref _watchFailure);

    /// <summary>Whether <paramref name="id"/> has the shape of a credential id (16 lower-case hexadecimal digits).</summary>
    public static bool IsId(string id) => id.Length == IdLength && id.All(char.IsAsciiHexDigitLower);

    /// <summary>Lists the credentials and starts following their changes.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await RelistAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(() => FollowAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>The credential <paramref name="token"/> belongs to, or null when it is none (unknown, revoked, malformed).</summary>
    public CredentialRecord? Find(string token)
    {
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token.Length <= TokenPrefix.Length + IdLength + 1 || token[TokenPrefix.Length + IdLength] != '.')
        {
            return null;
        }

        var id = token.Substring(TokenPrefix.Length, IdLength);
        if (!Volatile.Read(ref _byId).TryGetValue(id, out var record))
        {
            return null;
        }

        return CryptographicOperations.FixedTimeEquals(Digest(token), record.TokenHash) ? record : null;
    }

    /// <summary>Every credential, by service, then by when it was made.</summary>
    public IReadOnlyList<CredentialRecord> List() =>
        [.. Volatile.Read(ref _byId).Values.OrderBy(r => r.Service, StringComparer.Ordinal).ThenBy(r => r.CreatedAt).ThenBy(r => r.Id, StringComparer.Ordinal)];

    /// <summary>Creates a credential for <paramref name="service"/> (canonical name); its token is returned here and never again.</summary>
    public async Task<(CredentialRecord? Record, string? Token, Refusal? Refusal)> CreateAsync(string service, CancellationToken cancellationToken)
    {
        if (Count >= settings.Limits.MaxCredentials)
        {
            return (null, null, new Refusal(
                StatusCodes.Status429TooManyRequests,
                $"meshd holds {settings.Limits.MaxCredentials} credentials, its limit (Meshd:Limits:MaxCredentials); revoke those no longer used (DELETE /v1/credentials/{{id}}). Nothing was stored.",
                null));
        }

        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdLength / 2));
            var token = $"{TokenPrefix}{id}.{Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes))}";
            var record = new CredentialRecord(id, service, time.GetUtcNow(), Digest(token));
            var key = StoreKeys.Credential(id);

            // Compared with absence, so an id drawn twice never replaces a credential.
            var commit = await store.CommitAsync([new StoreCompare(key, 0)], [StoreOperation.Put(key, record.ToUtf8())], cancellationToken).ConfigureAwait(false);
            if (commit.Succeeded)
            {
                Apply(key, record, commit.Revision);
                LogCreated(logger, id, service);
                return (record, token, null);
            }
        }

        throw new Registry.ConflictException("No free credential id was drawn; try again.");
    }

    /// <summary>Revokes a credential; false when there is none with that id. Its token is refused from then on.</summary>
    public async Task<bool> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        var key = StoreKeys.Credential(id);
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var existing = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            if (existing is null)
            {
                return false;
            }

            var commit = await store.CommitAsync([new StoreCompare(key, existing.ModRevision)], [StoreOperation.Delete(key)], cancellationToken).ConfigureAwait(false);
            if (commit.Succeeded)
            {
                Apply(key, null, commit.Revision);
                LogRevoked(logger, id);
                return true;
            }
        }

        throw new Registry.ConflictException($"Credential '{id}' kept changing while it was being revoked; try again.");
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stopping.Dispose();
    }

    private static byte[] Digest(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private async Task RelistAsync(CancellationToken cancellationToken)
    {
        var listing = await store.ListAsync(StoreKeys.Credentials, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            var builder = ImmutableDictionary.CreateBuilder<string, CredentialRecord>(StringComparer.Ordinal);
            _revisions.Clear();
            foreach (var entry in listing.Entries)
            {
                _revisions[entry.Key] = entry.ModRevision;
                if (Decode(new StoreEvent(entry.Key, entry.Value, entry.ModRevision)) is { } record)
                {
                    builder[record.Id] = record;
                }
            }

            _listedAt = listing.Revision;
            _applied = Math.Max(_applied, listing.Revision);
            Volatile.Write(ref _byId, builder.ToImmutable());
        }
    }

    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        var relist = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (relist)
                {
                    await RelistAsync(cancellationToken).ConfigureAwait(false);
                    relist = false;
                }

                await foreach (var batch in store.WatchAsync(StoreKeys.Credentials, Volatile.Read(ref _applied) + 1, cancellationToken).ConfigureAwait(false))
                {
                    foreach (var change in batch.Events)
                    {
                        Apply(change.Key, change.Value is null ? null : Decode(change), change.ModRevision);
                    }

                    lock (_lock)
                    {
                        _applied = Math.Max(_applied, batch.Revision);
                    }

                    if (Interlocked.Exchange(ref _watchFailure, null) is not null)
                    {
                        LogFollowing(logger);
                    }
                }
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A compacted revision: list again, then follow on from there.
                relist |= ex is StoreCompactedException;
                if (Interlocked.Exchange(ref _watchFailure, ex.Message) is null)
                {
                    LogWatchBroken(logger, ex.Message);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>Applies one change unless a newer one of that key is already applied (the listing counts for every key).</summary>
    private void Apply(string key, CredentialRecord? record, long revision)
    {
        lock (_lock)
        {
            if (revision <= Math.Max(_listedAt, _revisions.GetValueOrDefault(key)))
            {
                return;
            }

            _revisions[key] = revision;
            var id = key[StoreKeys.Credentials.Length..];
            Volatile.Write(ref _byId, record is null ? _byId.Remove(id) : _byId.SetItem(id, record));
        }
    }

    /// <summary>Reads a stored credential; a value meshd did not write is logged once and counts as absent.</summary>
    private CredentialRecord? Decode(StoreEvent change)
    {
        var id = change.Key[StoreKeys.Credentials.Length..];
        string problem;
        if (!IsId(id))
        {
            problem = "the key is not credentials/<16 hexadecimal digits>";
        }
        else if (CredentialRecord.TryFromUtf8(id, change.Value!, out var record, out problem))
        {
            return record;
        }

        lock (_lock)
        {
            if (_reported.Count < 4096 && _reported.Add((change.Key, change.ModRevision)))
            {
                LogUndecodable(logger, change.Key, change.ModRevision, problem);
            }
        }

        return null;
    }
}
