using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Meshd.Storage;
using Meshd.Tests.Infrastructure;

namespace Meshd.Tests.Storage;

public sealed class KillDuringWritesTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_acknowledged_write_survives_kill_9_in_a_burst_and_the_file_always_parses()
    {
        using var directory = new TempDirectory();
        var settings = TestMeshd.Settings(directory.Path, ("Meshd:LeaseTtl", "00:05:00"));
        var acknowledgedInstances = new ConcurrentDictionary<string, string>();
        var acknowledgedPolicies = new ConcurrentDictionary<(string Service, long Version), string>();

        for (var round = 0; round < 3; round++)
        {
            using var meshd = await MeshdProcess.StartAsync(settings);
            using var admin = TestMeshd.Client(meshd.Address, TestMeshd.AdminToken);
            using var workload = TestMeshd.Client(meshd.Address, TestMeshd.WorkloadToken);
            using var stop = new CancellationTokenSource();
            var acknowledged = 0;

            async Task WriterAsync(int writer)
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        if (i % 2 == 0)
                        {
                            var id = $"r{round}-w{writer}-{i}";
                            var address = $"http://127.0.0.1:{10000 + (writer * 1000) + (i % 1000)}";
                            var response = await workload.PutAsync($"/v1/services/svc{writer}/instances/{id}", TestMeshd.Json($$"""{ "address": "{{address}}" }"""), stop.Token);
                            if (response.IsSuccessStatusCode)
                            {
                                acknowledgedInstances[$"svc{writer}/{id}"] = address;
                                Interlocked.Increment(ref acknowledged);
                            }
                        }
                        else
                        {
                            var body = $$"""{ "Retry": { "MaxAttempts": {{1 + (i % 10)}} }, "Timeout": "00:00:{{10 + (i % 50)}}" }""";
                            var response = await admin.PutAsync($"/v1/policies/svc{writer}", TestMeshd.Json(body), stop.Token);
                            if (response.IsSuccessStatusCode)
                            {
                                var version = (long)(await response.Content.ReadFromJsonAsync<JsonObject>(stop.Token))!["version"]!;
                                acknowledgedPolicies[($"svc{writer}", version)] = body;
                                Interlocked.Increment(ref acknowledged);
                            }
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
                    {
                        // The process died under this request: it was never acknowledged.
                        return;
                    }
                }
            }

            var burst = System.Diagnostics.Stopwatch.StartNew();
            var writers = Enumerable.Range(0, 8).Select(w => Task.Run(() => WriterAsync(w))).ToArray();
            await Eventually.WaitAsync(() => Volatile.Read(ref acknowledged) >= 40 + (round * 10), "a burst of acknowledged writes", TimeSpan.FromSeconds(30));

            // SIGKILL while the writers are still sending.
            meshd.Kill();
            var elapsed = burst.Elapsed;
            await stop.CancelAsync();
            await Task.WhenAll(writers);
            output.WriteLine($"round {round}: killed meshd (pid {meshd.Pid}) after {acknowledged} acknowledged writes in {elapsed.TotalMilliseconds:F0} ms from 8 writers");

            // The file is whole whatever the moment of the kill.
            using (JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(directory.Path, FileKeyValueStore.FileName))))
            {
            }
        }

        using var restarted = await MeshdProcess.StartAsync(settings);
        using var check = TestMeshd.Client(restarted.Address, TestMeshd.AdminToken);
        var snapshot = (await check.GetFromJsonAsync<JsonObject>("/v1/snapshot"))!;
        foreach (var (key, address) in acknowledgedInstances)
        {
            var service = key.Split('/')[0];
            var id = key.Split('/')[1];
            var instance = snapshot["services"]![service]?["instances"]!.AsArray().FirstOrDefault(i => (string?)i!["instanceId"] == id);
            Assert.True(instance is not null, $"acknowledged instance {key} is missing after kill -9");
            Assert.Equal(address, (string?)instance!["address"]);
        }

        foreach (var group in acknowledgedPolicies.GroupBy(p => p.Key.Service))
        {
            var history = (await check.GetFromJsonAsync<JsonArray>($"/v1/policies/{group.Key}/history"))!;
            var versions = history.ToDictionary(h => (long)h!["version"]!, h => h!["policy"]!.ToJsonString());
            foreach (var ((_, version), body) in group)
            {
                Assert.True(versions.ContainsKey(version), $"acknowledged policy {group.Key} v{version} is missing after kill -9");
                Assert.True(JsonNode.DeepEquals(JsonNode.Parse(body), JsonNode.Parse(versions[version])), $"{group.Key} v{version} changed");
            }
        }

        Assert.Empty(Directory.EnumerateFiles(directory.Path, "*.tmp"));
        output.WriteLine($"{acknowledgedInstances.Count} acknowledged registrations and {acknowledgedPolicies.Count} acknowledged policy versions, all present after three kill -9");
    }
}
