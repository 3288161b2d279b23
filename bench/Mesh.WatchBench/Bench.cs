using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mesh.WatchBench;

/// <summary>The run: meshd as a child, N watchers parked from worker processes, R policy changes, then a connection flood.</summary>
internal static class Bench
{
    private const string Admin = "bench-admin-token";
    private const string Workload = "bench-workload-token";
    private const int PerAddress = 1000;
    private const int PerWorker = 5000;

    public static async Task<int> RunAsync(Options options, List<Child> children, CancellationToken cancel)
    {
        var self = Path.Combine(AppContext.BaseDirectory, "Mesh.WatchBench.dll");
        var meshdDll = options.Meshd ?? Path.Combine(AppContext.BaseDirectory, "Mesh.ControlPlane.dll");
        var data = Directory.CreateTempSubdirectory("meshd-bench-");
        try
        {
            string[] settings =
            [
                "--Meshd:Urls=http://127.0.0.1:0", $"--Meshd:DataDirectory={data.FullName}", $"--Meshd:AdminToken={Admin}", $"--Meshd:WorkloadToken={Workload}",
                "--Meshd:LeaseTtl=00:10:00", $"--Meshd:Limits:MaxWatchers={options.Watchers + 100}", "--Logging:LogLevel:Default=Warning",
                .. options.Smoke ? new[] { $"--Meshd:Limits:MaxConnections={options.Connections - 100}" } : [],
            ];
            var meshd = Child.Start("dotnet", [meshdDll, .. settings]);
            children.Add(meshd);
            var address = new Uri(meshd.WaitFor("meshd: serving on ", TimeSpan.FromSeconds(60), cancel)["meshd: serving on ".Length..].Trim());
            Console.WriteLine($"meshd pid {meshd.Pid} on {address} ({meshdDll})");
            using var admin = Client(address, Admin);
            using var workload = Client(address, Workload);
            var hasStatus = (await admin.GetAsync("/v1/status", cancel)).IsSuccessStatusCode;

            // A small realistic mesh: three services of ten instances, each with a policy.
            foreach (var service in new[] { "inventory", "orders", "payments" })
            {
                for (var i = 0; i < 10; i++)
                {
                    (await workload.PutAsync($"/v1/services/{service}/instances/{service}-{i}", Json($$"""{ "address": "http://10.0.{{i}}.1:8080", "zone": "z{{i % 3}}", "labels": { "version": "v{{i % 2}}" } }"""), cancel)).EnsureSuccessStatusCode();
                }
            }

            var quiet = new List<double>();
            for (var i = 0; i < 20; i++)
            {
                quiet.Add(await WriteAsync(admin, i, cancel));
            }

            var snapshot = await workload.GetAsync("/v1/snapshot", cancel);
            var version = long.Parse(snapshot.Headers.GetValues("Mesh-Version").Single(), CultureInfo.InvariantCulture);
            var snapshotBytes = (await snapshot.Content.ReadAsByteArrayAsync(cancel)).Length;
            await Task.Delay(TimeSpan.FromSeconds(1), cancel);
            var before = meshd.ResidentKib();

            // Watchers, from worker processes, each from its own loopback addresses.
            var workers = new List<(Child Child, int Count)>();
            var next = 0;
            for (var left = options.Watchers; left > 0; left -= PerWorker)
            {
                var count = Math.Min(PerWorker, left);
                var from = Addresses(ref next, count);
                var worker = Child.Start("dotnet", [self, "park", "--address", address.ToString(), "--token", Workload, "--count", count.ToString(CultureInfo.InvariantCulture), "--from", from, "--since", version.ToString(CultureInfo.InvariantCulture)]);
                children.Add(worker);
                workers.Add((worker, count));
            }

            foreach (var (worker, _) in workers)
            {
                worker.WaitFor("parked", TimeSpan.FromMinutes(2), cancel);
            }

            await ParkedAsync(admin, hasStatus, options, cancel);
            await Task.Delay(TimeSpan.FromSeconds(1), cancel);
            var parked = meshd.ResidentKib();
            var perConnection = (parked - before) * 1024.0 / options.Watchers;
            Console.WriteLine($"{options.Watchers} watchers parked from {workers.Count} processes: meshd RSS {before / 1024.0:F0} -> {parked / 1024.0:F0} MiB, {perConnection / 1024.0:F1} KB per parked connection (snapshot {snapshotBytes} bytes)");

            var rounds = new List<JsonObject>();
            var all = new List<double>();
            for (var round = 1; round <= options.Rounds; round++)
            {
                var started = Stopwatch.GetTimestamp();
                var pausedBefore = hasStatus ? (await admin.GetFromJsonAsync<JsonObject>("/v1/status", cancel))?["gc"]?["pausedMilliseconds"]?.GetValue<double>() : null;
                var meshdCpu = meshd.CpuMilliseconds();
                var workersCpu = workers.Sum(w => w.Child.CpuMilliseconds());
                var write = await WriteAsync(admin, 100 + round, cancel);
                var acknowledged = Stopwatch.GetTimestamp();
                var latencies = new List<double>(options.Watchers);
                foreach (var (worker, _) in workers)
                {
                    var line = worker.WaitFor($"round {round} ", TimeSpan.FromMinutes(2), cancel);
                    latencies.AddRange(line.Split(' ').Skip(2).Select(t => Math.Max(0, Stopwatch.GetElapsedTime(acknowledged, long.Parse(t, CultureInfo.InvariantCulture)).TotalMilliseconds)));
                }

                meshdCpu = meshd.CpuMilliseconds() - meshdCpu;
                workersCpu = workers.Sum(w => w.Child.CpuMilliseconds()) - workersCpu;
                latencies.Sort();
                all.AddRange(latencies);

                // meshd's own account of the round (a build without it says nothing): how long handing out the answers took.
                var after = hasStatus ? await admin.GetFromJsonAsync<JsonObject>("/v1/status", cancel) : null;
                var fanOut = after?["watchers"]?["lastFanOut"]?["milliseconds"]?.GetValue<double>();
                var paused = after?["gc"]?["pausedMilliseconds"]?.GetValue<double>() - pausedBefore;
                Console.WriteLine($"round {round}: acknowledged write to answer p50 {Percentile(latencies, 0.50):F1} ms, p99 {Percentile(latencies, 0.99):F1} ms, last {latencies[^1]:F1} ms; the write took {write:F1} ms (median {Median(quiet):F1} ms with no watchers){(fanOut is { } ms ? $"; meshd's fan-out {ms:F1} ms" : string.Empty)}{(paused is { } gc ? $", GC pauses {gc:F1} ms" : string.Empty)}; CPU meshd {meshdCpu:F0} ms, workers {workersCpu:F0} ms");
                rounds.Add(new JsonObject { ["round"] = round, ["p50Ms"] = Percentile(latencies, 0.50), ["p99Ms"] = Percentile(latencies, 0.99), ["lastMs"] = latencies[^1], ["writeMs"] = write, ["meshdFanOutMs"] = fanOut, ["meshdGcPauseMs"] = paused, ["meshdCpuMs"] = meshdCpu, ["workersCpuMs"] = workersCpu });
                _ = started;
                await ParkedAsync(admin, hasStatus, options, cancel);
            }

            all.Sort();
            Console.WriteLine($"all rounds: p99 {Percentile(all, 0.99):F1} ms over {all.Count} answers");
            foreach (var (worker, _) in workers)
            {
                worker.Kill();
            }

            children.RemoveAll(c => workers.Any(w => w.Child == c));
            await Task.Delay(TimeSpan.FromSeconds(2), cancel);

            // The flood: far more idle connections than meshd takes; it must refuse the rest and keep serving.
            if (hasStatus)
            {
                Console.WriteLine($"status before the flood: {await admin.GetStringAsync("/v1/status", cancel)}");
            }
            else
            {
                (await admin.GetAsync("/healthz", cancel)).EnsureSuccessStatusCode();
            }

            var floods = new List<Child>();
            next = 0;
            for (var left = options.Connections; left > 0; left -= 10_000)
            {
                var count = Math.Min(10_000, left);
                var flood = Child.Start("dotnet", [self, "flood", "--address", address.ToString(), "--count", count.ToString(CultureInfo.InvariantCulture), "--from", Addresses(ref next, count, third: 2)]);
                children.Add(flood);
                floods.Add(flood);
            }

            long open = 0, answered = 0, closed = 0;
            foreach (var flood in floods)
            {
                var parts = flood.WaitFor("flood ", TimeSpan.FromMinutes(3), cancel).Split(' ');
                open += long.Parse(parts[2], CultureInfo.InvariantCulture);
                answered += long.Parse(parts[4], CultureInfo.InvariantCulture);
                closed += long.Parse(parts[6], CultureInfo.InvariantCulture);
            }

            var alive = !meshd.HasExited;
            var status = alive && hasStatus ? JsonNode.Parse(await admin.GetStringAsync("/v1/status", cancel)) : null;
            int health;
            try
            {
                health = alive ? (int)(await admin.GetAsync("/healthz", cancel)).StatusCode : 0;
            }
            catch (HttpRequestException)
            {
                health = 0;
            }

            var rss = alive ? meshd.ResidentKib() : 0;
            Console.WriteLine($"flood of {options.Connections} connections: {open} held open, {answered} refused with 503, {closed} closed; meshd {(alive ? "alive" : "DEAD")}, /healthz {health} on a connection opened before, connections open {status?["connections"]?["open"]} of at most {status?["connections"]?["max"]}, RSS {rss / 1024.0:F0} MiB");
            floods.ForEach(f => f.Send("done"));

            if (options.Out is { } file)
            {
                var result = new JsonObject
                {
                    ["mode"] = "watch",
                    ["dateUtc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                    ["machine"] = new JsonObject
                    {
                        ["cores"] = Environment.ProcessorCount,
                        ["os"] = Environment.OSVersion.ToString(),
                        ["dotnet"] = Environment.Version.ToString(),

                        // Other work on the same cores moves every figure here; the load average at the end says how much there was.
                        ["loadAverage"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null,
                    },
                    ["meshd"] = meshdDll,
                    ["watchers"] = options.Watchers,
                    ["snapshotBytes"] = snapshotBytes,
                    ["bytesPerParkedConnection"] = perConnection,
                    ["rounds"] = new JsonArray([.. rounds]),
                    ["p99Ms"] = Percentile(all, 0.99),
                    ["quietWriteMs"] = Median(quiet),
                    ["flood"] = new JsonObject { ["connections"] = options.Connections, ["open"] = open, ["refused503"] = answered, ["closed"] = closed, ["meshdAlive"] = alive, ["healthz"] = health },
                };
                await File.WriteAllTextAsync(file, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), cancel);
            }

            return alive && health == 200 ? 0 : 1;
        }
        finally
        {
            foreach (var child in children)
            {
                child.Kill();
            }

            children.Clear();
            data.Delete(recursive: true);
        }
    }

    private static async Task ParkedAsync(HttpClient admin, bool hasStatus, Options options, CancellationToken cancel)
    {
        if (!hasStatus)
        {
            await Task.Delay(TimeSpan.FromSeconds(options.Settle), cancel);
            return;
        }

        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 120);
        while ((await admin.GetFromJsonAsync<JsonObject>("/v1/status", cancel))!["watchers"]!["parked"]!.GetValue<int>() < options.Watchers)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"not all {options.Watchers} watchers parked within 120 s.");
            }

            await Task.Delay(50, cancel);
        }
    }

    private static async Task<double> WriteAsync(HttpClient admin, int n, CancellationToken cancel)
    {
        var started = Stopwatch.GetTimestamp();
        (await admin.PutAsync("/v1/policies/inventory", Json($$"""{ "Retry": { "MaxAttempts": {{1 + (n % 9)}} }, "Timeout": "00:00:{{10 + (n % 40)}}" }"""), cancel)).EnsureSuccessStatusCode();
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private static string Addresses(ref int next, int count, int third = 1)
    {
        var list = new List<string>();
        for (var used = 0; used < count; used += PerAddress)
        {
            next++;
            list.Add($"127.0.{third}.{next}");
        }

        return string.Join(',', list);
    }

    private static HttpClient Client(Uri address, string token)
    {
        var client = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10), MaxConnectionsPerServer = 2 }) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static double Median(List<double> values) => Percentile([.. values.Order()], 0.5);
}
