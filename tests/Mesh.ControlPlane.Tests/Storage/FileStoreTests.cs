using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Meshd.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Meshd.Tests.Storage;

public sealed class FileStoreTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Concurrent_writes_are_committed_together_each_at_its_own_revision_and_all_on_disk()
    {
        using var directory = new TempDirectory();
        const int Writes = 500;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        StoreCommit[] commits;
        await using (var store = FileKeyValueStore.Open(directory.Path, NullLogger.Instance))
        {
            commits = await Task.WhenAll(Enumerable.Range(0, Writes).Select(i =>
                store.CommitAsync([new StoreCompare($"k{i}", 0)], [StoreOperation.Put($"k{i}", BitConverter.GetBytes(i))], CancellationToken.None)));
        }

        output.WriteLine($"{Writes} concurrent durable writes to the file store in {watch.ElapsedMilliseconds} ms");
        Assert.All(commits, c => Assert.True(c.Succeeded));
        Assert.Equal(Enumerable.Range(1, Writes).Select(r => (long)r), commits.Select(c => c.Revision).Order());

        await using var reopened = FileKeyValueStore.Open(directory.Path, NullLogger.Instance);
        var listing = await reopened.ListAsync(string.Empty, CancellationToken.None);
        Assert.Equal(Writes, listing.Revision);
        Assert.Equal(Writes, listing.Entries.Count);
    }

    [Fact]
    public async Task A_restart_keeps_every_write_and_the_version_never_goes_back()
    {
        using var directory = new TempDirectory();
        long version;
        string before;
        await using (var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path)))
        {
            await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
            await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");
            await meshd.RegisterAsync("inventory", "inv-2", "http://127.0.0.1:5002");
            await meshd.Workload.DeleteAsync("/v1/services/inventory/instances/inv-2");
            var snapshot = await meshd.SnapshotAsync();
            version = (long)snapshot["version"]!;
            before = snapshot["services"]!.ToJsonString();
        }

        await using var restarted = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path));
        var after = await restarted.SnapshotAsync();
        Assert.True((long)after["version"]! >= version);
        Assert.Equal(before, after["services"]!.ToJsonString());
        Assert.Single((await restarted.Admin.GetFromJsonAsync<JsonArray>("/v1/policies/inventory/history"))!);
    }

    [Fact]
    public async Task A_temporary_file_left_by_a_crash_is_ignored_and_removed()
    {
        using var directory = new TempDirectory();
        await using (var store = FileKeyValueStore.Open(directory.Path, NullLogger.Instance))
        {
            await store.CommitAsync([], [StoreOperation.Put("a", "1"u8.ToArray())], CancellationToken.None);
        }

        var leftover = Path.Combine(directory.Path, FileKeyValueStore.FileName + ".0123.tmp");
        await File.WriteAllTextAsync(leftover, "{ \"revision\": 99, \"entr");

        await using var reopened = FileKeyValueStore.Open(directory.Path, NullLogger.Instance);
        var listing = await reopened.ListAsync(string.Empty, CancellationToken.None);
        Assert.Equal(1, listing.Revision);
        Assert.Equal("1"u8.ToArray(), Assert.Single(listing.Entries).Value);
        Assert.False(File.Exists(leftover));
    }

    [Fact]
    public async Task A_transaction_whose_compare_fails_changes_nothing()
    {
        using var directory = new TempDirectory();
        await using var store = FileKeyValueStore.Open(directory.Path, NullLogger.Instance);
        var first = await store.CommitAsync([new StoreCompare("a", 0)], [StoreOperation.Put("a", "1"u8.ToArray())], CancellationToken.None);
        Assert.True(first.Succeeded);

        var stale = await store.CommitAsync([new StoreCompare("a", 0)], [StoreOperation.Put("a", "2"u8.ToArray()), StoreOperation.Put("b", "2"u8.ToArray())], CancellationToken.None);
        Assert.False(stale.Succeeded);
        Assert.Equal("1"u8.ToArray(), (await store.GetAsync("a", CancellationToken.None))!.Value);
        Assert.Null(await store.GetAsync("b", CancellationToken.None));

        var current = await store.CommitAsync([new StoreCompare("a", first.Revision)], [StoreOperation.Put("a", "3"u8.ToArray())], CancellationToken.None);
        Assert.True(current.Succeeded);
    }
}
