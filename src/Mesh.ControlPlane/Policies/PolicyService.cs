using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Meshd.Registry;
using Meshd.Storage;
using Meshd.Watch;

namespace Meshd.Policies;

/// <summary>
/// Versioned per-service policies. Each write puts the current document and its history entry in one transaction
/// that compares the current document's mod revision, so concurrent writers through any replica never lose a version.
/// The history keeps the last <c>Meshd:Limits:MaxPolicyVersions</c> versions of each service.
/// </summary>
internal sealed class PolicyService(IKeyValueStore store, MeshState state, TimeProvider time, MeshdSettings settings) : IDisposable
{
    private const int Attempts = 32;

    // Writers in this process take turns, so compare-and-set races are only between replicas.
    private readonly SemaphoreSlim _turn = new(1, 1);

    /// <summary>
    /// Writes a new version made by <paramref name="produce"/> from the current one (null document: delete). Fails with
    /// <see cref="PolicyWrite.Invalid"/> before storing anything when the result does not validate. A
    /// <paramref name="dryRun"/> goes as far as the store's write and answers with the version it would have made.
    /// </summary>
    public async Task<PolicyWrite> WriteAsync(string service, long? ifMatch, Func<PolicyRecord?, PolicyDocument> produce, CancellationToken cancellationToken, bool dryRun = false)
    {
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await WriteOnceAsync(service, ifMatch, produce, dryRun, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    private async Task<PolicyWrite> WriteOnceAsync(string service, long? ifMatch, Func<PolicyRecord?, PolicyDocument> produce, bool dryRun, CancellationToken cancellationToken)
    {
        var key = StoreKeys.Policy(service);
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var entry = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            PolicyRecord? current = null;
            long currentVersion = 0;
            if (entry is not null)
            {
                // A value meshd cannot read (written by something else) is replaced; versions go on after the history's.
                currentVersion = PolicyRecord.TryFromUtf8(entry.Value, out current, out _)
                    ? current.Version
                    : await NewestHistoryVersionAsync(service, cancellationToken).ConfigureAwait(false);
            }

            if (ifMatch is { } expected && expected != currentVersion)
            {
                return PolicyWrite.PreconditionFailed(currentVersion);
            }

            var document = produce(current);
            if (document.Failure is { } failure)
            {
                return failure;
            }

            if (document.Policy is { } policy)
            {
                var errors = PolicyValidator.Validate(service, policy);
                if (errors.Count > 0)
                {
                    return PolicyWrite.Invalid(errors);
                }

                if (document.SkipIfUnchanged && current?.Policy is { } existing && JsonNode.DeepEquals(JsonNode.Parse(existing.GetRawText()), policy))
                {
                    // A merge patch that changes nothing makes no version.
                    return PolicyWrite.Written(current);
                }
            }

            var record = new PolicyRecord(
                currentVersion + 1,
                document.Policy is null ? null : JsonSerializer.SerializeToElement(document.Policy),
                time.GetUtcNow());
            var value = record.ToUtf8();
            if (Quota(service, value, entry, current) is { } refused)
            {
                return refused;
            }

            if (dryRun)
            {
                return PolicyWrite.Written(record);
            }

            List<StoreOperation> operations = [StoreOperation.Put(key, value), StoreOperation.Put(StoreKeys.History(service, record.Version), value)];
            if (record.Version > settings.Limits.MaxPolicyVersions)
            {
                operations.Add(StoreOperation.Delete(StoreKeys.History(service, record.Version - settings.Limits.MaxPolicyVersions)));
            }

            var commit = await store.CommitAsync([new StoreCompare(key, entry?.ModRevision ?? 0)], operations, cancellationToken).ConfigureAwait(false);
            if (commit.Succeeded)
            {
                await state.WaitForRevisionAsync(commit.Revision, cancellationToken).ConfigureAwait(false);
                return PolicyWrite.Written(record);
            }

            if (ifMatch is not null)
            {
                return PolicyWrite.PreconditionFailed(currentVersion + 1);
            }

            // Another replica won this round; back off a little, with jitter, so the two do not collide again.
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 10 + (attempt * 5))), time, cancellationToken).ConfigureAwait(false);
        }

        throw new ConflictException($"The policy of service '{service}' kept changing while it was being written; try again.");
    }

    public void Dispose() => _turn.Dispose();

    /// <summary>Every kept version of a service's policy, newest first; versions meshd cannot read are left out.</summary>
    public async Task<IReadOnlyList<PolicyRecord>> HistoryAsync(string service, CancellationToken cancellationToken)
    {
        var listing = await store.ListAsync(StoreKeys.History(service), cancellationToken).ConfigureAwait(false);
        var records = new List<PolicyRecord>(listing.Entries.Count);
        foreach (var entry in listing.Entries)
        {
            if (PolicyRecord.TryFromUtf8(entry.Value, out var record, out _))
            {
                records.Add(record);
            }
        }

        return [.. records.OrderByDescending(r => r.Version)];
    }

    public async Task<PolicyWrite> RestoreAsync(string service, long version, long? ifMatch, CancellationToken cancellationToken)
    {
        var entry = await store.GetAsync(StoreKeys.History(service, version), cancellationToken).ConfigureAwait(false);
        if (entry is null || !PolicyRecord.TryFromUtf8(entry.Value, out var old, out _))
        {
            return PolicyWrite.NotFound($"Service '{service}' has no policy version {version} (meshd keeps the last {settings.Limits.MaxPolicyVersions}, Meshd:Limits:MaxPolicyVersions).");
        }

        var policy = old.Policy is { } element ? JsonNode.Parse(element.GetRawText()) : null;
        return await WriteAsync(service, ifMatch, _ => new PolicyDocument(policy), cancellationToken).ConfigureAwait(false);
    }

    private PolicyWrite? Quota(string service, byte[] value, KeyValueEntry? entry, PolicyRecord? current)
    {
        var limits = settings.Limits;
        if (value.Length > limits.MaxValueBytes)
        {
            return PolicyWrite.Refused(StatusCodes.Status413PayloadTooLarge, $"The policy of service '{service}' is {value.Length} bytes stored, over {limits.MaxValueBytes} (Meshd:Limits:MaxValueBytes).", retryAfter: null);
        }

        var grows = value.Length - (current?.Policy is { } old ? old.GetRawText().Length + 64 : entry is null ? 0 : 64);
        if (grows > 0 && state.Head.Snapshot.Utf8Json.Length + grows > limits.MaxSnapshotBytes)
        {
            return PolicyWrite.Refused(
                StatusCodes.Status503ServiceUnavailable,
                $"The snapshot would grow past {limits.MaxSnapshotBytes} bytes (Meshd:Limits:MaxSnapshotBytes); nothing was stored. Remove instances or policies, or raise the limit.",
                settings.LeaseTtl);
        }

        return null;
    }

    private async Task<long> NewestHistoryVersionAsync(string service, CancellationToken cancellationToken)
    {
        var prefix = StoreKeys.History(service);
        var listing = await store.ListAsync(prefix, cancellationToken).ConfigureAwait(false);
        return listing.Entries
            .Select(e => long.TryParse(e.Key.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0)
            .DefaultIfEmpty(0)
            .Max();
    }
}

/// <summary>
/// The document a write produces from the current one, or why it cannot; with <see cref="SkipIfUnchanged"/>, a result
/// equal to the current document makes no version.
/// </summary>
internal readonly record struct PolicyDocument(JsonNode? Policy, PolicyWrite? Failure = null, bool SkipIfUnchanged = false);

/// <summary>The outcome of a policy write.</summary>
internal sealed record PolicyWrite(PolicyRecord? Record, Dictionary<string, string[]>? Errors, long? CurrentVersion, string? Missing, Refusal? Refusal = null)
{
    public static PolicyWrite Written(PolicyRecord record) => new(record, null, null, null);

    public static PolicyWrite Invalid(Dictionary<string, string[]> errors) => new(null, errors, null, null);

    public static PolicyWrite PreconditionFailed(long current) => new(null, null, current, null);

    public static PolicyWrite NotFound(string detail) => new(null, null, null, detail);

    public static PolicyWrite Refused(int status, string detail, TimeSpan? retryAfter) => new(null, null, null, null, new Refusal(status, detail, retryAfter));
}
