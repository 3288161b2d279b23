using System.Text.Json;
using System.Text.Json.Nodes;
using Meshd.Registry;
using Meshd.Storage;
using Meshd.Watch;

namespace Meshd.Policies;

/// <summary>
/// Versioned per-service policies. Each write puts the current document and its history entry in one transaction
/// that compares the current document's mod revision, so concurrent writers through any replica never lose a version.
/// </summary>
internal sealed class PolicyService(IKeyValueStore store, MeshState state, TimeProvider time) : IDisposable
{
    private const int Attempts = 32;

    // Writers in this process take turns, so compare-and-set races are only between replicas.
    private readonly SemaphoreSlim _turn = new(1, 1);

    /// <summary>
    /// Writes a new version made by <paramref name="produce"/> from the current one (null document: delete). Fails with
    /// <see cref="PolicyWrite.Invalid"/> before storing anything when the result does not validate.
    /// </summary>
    public async Task<PolicyWrite> WriteAsync(string service, long? ifMatch, Func<PolicyRecord?, PolicyDocument> produce, CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await WriteOnceAsync(service, ifMatch, produce, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    private async Task<PolicyWrite> WriteOnceAsync(string service, long? ifMatch, Func<PolicyRecord?, PolicyDocument> produce, CancellationToken cancellationToken)
    {
        var key = StoreKeys.Policy(service);
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var entry = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            var current = entry is null ? null : PolicyRecord.FromUtf8(entry.Value);
            var currentVersion = current?.Version ?? 0;
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
            }

            var record = new PolicyRecord(
                currentVersion + 1,
                document.Policy is null ? null : JsonSerializer.SerializeToElement(document.Policy),
                time.GetUtcNow());
            var value = record.ToUtf8();
            var commit = await store.CommitAsync(
                [new StoreCompare(key, entry?.ModRevision ?? 0)],
                [StoreOperation.Put(key, value), StoreOperation.Put(StoreKeys.History(service, record.Version), value)],
                cancellationToken).ConfigureAwait(false);
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

    /// <summary>Every version of a service's policy, newest first.</summary>
    public async Task<IReadOnlyList<PolicyRecord>> HistoryAsync(string service, CancellationToken cancellationToken)
    {
        var listing = await store.ListAsync(StoreKeys.History(service), cancellationToken).ConfigureAwait(false);
        return listing.Entries.Select(e => PolicyRecord.FromUtf8(e.Value)).OrderByDescending(r => r.Version).ToList();
    }

    public async Task<PolicyWrite> RestoreAsync(string service, long version, CancellationToken cancellationToken)
    {
        var entry = await store.GetAsync(StoreKeys.History(service, version), cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return PolicyWrite.NotFound($"Service '{service}' has no policy version {version}.");
        }

        var old = PolicyRecord.FromUtf8(entry.Value);
        var policy = old.Policy is { } element ? JsonNode.Parse(element.GetRawText()) : null;
        return await WriteAsync(service, null, _ => new PolicyDocument(policy), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The document a write produces from the current version, or why it cannot.</summary>
internal readonly record struct PolicyDocument(JsonNode? Policy, PolicyWrite? Failure = null);

/// <summary>The outcome of a policy write.</summary>
internal sealed record PolicyWrite(PolicyRecord? Record, Dictionary<string, string[]>? Errors, long? CurrentVersion, string? Missing)
{
    public static PolicyWrite Written(PolicyRecord record) => new(record, null, null, null);

    public static PolicyWrite Invalid(Dictionary<string, string[]> errors) => new(null, errors, null, null);

    public static PolicyWrite PreconditionFailed(long current) => new(null, null, current, null);

    public static PolicyWrite NotFound(string detail) => new(null, null, null, detail);
}
