using System.Net.Http.Json;
using System.Text.Json;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Contract;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.ControlPlane;

/// <summary>
/// Two instances of one service on one machine share the default cache file: each writes aside and renames over it,
/// so a reader, the other instance or a restart, always finds one whole snapshot, never a mix of two.
/// </summary>
public sealed class SharedCacheTests : IAsyncLifetime
{
    private string _cache = "";

    public Task InitializeAsync()
    {
        _cache = Directory.CreateTempSubdirectory("mesh-shared-cache-").FullName;
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_cache, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Two_instances_writing_one_cache_file_through_many_changes_leave_it_whole_at_every_read_and_newest_at_the_end()
    {
        await using var meshd = await TestMeshd.StartAsync();
        (await meshd.PutPolicyAsync("inventory", Policy(0))).EnsureSuccessStatusCode();
        using var first = Instance(meshd);
        using var second = Instance(meshd);
        await first.StartAsync();
        await second.StartAsync();
        var path = first.Services.GetRequiredService<ControlPlaneWatcher>().CachePath;
        Assert.Equal(path, second.Services.GetRequiredService<ControlPlaneWatcher>().CachePath);

        using var stop = new CancellationTokenSource();
        var reads = 0;
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (File.Exists(path))
                {
                    // Every read is one whole snapshot: it parses, through the contract's own reader.
                    var body = await File.ReadAllBytesAsync(path!);
                    Assert.NotNull(JsonSerializer.Deserialize(body, ControlPlaneJson.Default.SnapshotDocument));
                    reads++;
                }

                await Task.Yield();
            }
        });

        for (var change = 1; change <= 40; change++)
        {
            (await meshd.PutPolicyAsync("inventory", Policy(change))).EnsureSuccessStatusCode();
        }

        var newest = (await meshd.Workload.GetFromJsonAsync(new Uri("/v1/snapshot", UriKind.Relative), ControlPlaneJson.Default.SnapshotDocument))!.Version;
        await Eventually.WaitAsync(
            () => Applied(first) == newest && Applied(second) == newest,
            "both instances applied the newest snapshot");
        await Eventually.WaitAsync(
            () => JsonSerializer.Deserialize(File.ReadAllBytes(path!), ControlPlaneJson.Default.SnapshotDocument)!.Version == newest,
            "the shared cache holds the newest snapshot");
        await stop.CancelAsync();
        await reader;
        Assert.True(reads > 0, "the reader read the cache");
        Assert.Empty(Directory.GetFiles(_cache, "*.tmp"));
    }

    private static long Applied(MeshTestHost host) => host.Services.GetRequiredService<ControlPlaneWatcher>().Current.Version;

    private static string Policy(int change) => $$"""{ "Timeout": "00:00:{{10 + (change % 40):00}}" }""";

    private MeshTestHost Instance(TestMeshd meshd) => MeshTestHost.Create(new Dictionary<string, string?>
    {
        ["Mesh:ServiceName"] = "orders",
        ["Mesh:ControlPlane:Address"] = meshd.Address.ToString(),
        ["Mesh:ControlPlane:Token"] = TestMeshd.WorkloadToken,
        ["Mesh:ControlPlane:CacheDirectory"] = _cache,
    });
}
