using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json.Serialization;
using Grpc.Net.Client;
using Mesh.Grpc.Inventory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.LoadBench;

/// <summary>
/// What a caller sees: one backend process on loopback, every configuration measured in turn each round (so drift
/// hits all alike), each after a warm-up: latency at concurrency 1, then throughput, CPU and allocations at
/// concurrency N. Every figure is also given as a ratio to the bare client of its protocol in the same run, and for the
/// mutual TLS rows to the bare client over mutual TLS too. The certificates are made for the run and deleted after it.
/// </summary>
internal static class Comparison
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        if (options.Runs == 1)
        {
            return await RunOnceAsync(options, options.Out, null, cancellationToken).ConfigureAwait(false);
        }

        // Several whole runs, each with its own backend process, JSON file and table, then their ratios side by side.
        var runs = new List<List<ComparisonRow>>();
        var status = 0;
        for (var run = 1; run <= options.Runs; run++)
        {
            Console.WriteLine(Report.Invariant($"=== run {run}/{options.Runs}"));
            var path = options.Out is { } o ? Path.Combine(Path.GetDirectoryName(o) ?? string.Empty, Report.Invariant($"{Path.GetFileNameWithoutExtension(o)}-{run}{Path.GetExtension(o)}")) : null;
            status = Math.Max(status, await RunOnceAsync(options, path, runs, cancellationToken).ConfigureAwait(false));
        }

        PrintSpread(runs);
        return status;
    }

    private static async Task<int> RunOnceAsync(BenchOptions options, string? outPath, List<List<ComparisonRow>>? runs, CancellationToken cancellationToken)
    {
        var nginx = Nginx.Find();
        if (nginx is null)
        {
            Console.Error.WriteLine("nginx is not installed (not on PATH nor in /usr/sbin): the 'sidecar' configuration needs it. Install it with: apt-get install -y nginx");
            if (options.Smoke)
            {
                return 2;
            }

            Console.Error.WriteLine("Going on without the 'sidecar' configuration.");
        }

        Console.WriteLine(Report.Invariant($"Mesh.LoadBench comparison: {options.Rounds} round(s); per configuration and round {options.Warmup:0.##} s warm-up, {options.Duration:0.##} s at concurrency 1, {options.Duration:0.##} s at concurrency {options.Concurrency}."));
        Console.WriteLine($"Load average before the run: {Report.LoadAverage()} (1, 5, 15 min); other work on the machine moves the figures.");
        using var pki = BenchPki.Create();
        Console.WriteLine($"Certificates for the mutual TLS rows in {pki.Directory} (deleted at the end of the run)");
        var (server, addresses) = await Serve.StartChildAsync(3, 3, pki.Directory, cancellationToken).ConfigureAwait(false);
        var disposables = new List<IDisposable>();
        try
        {
            Console.WriteLine(Report.Invariant($"Backends (pid {server.Id}): HTTP/1.1 {string.Join(", ", addresses.Http)}; gRPC h2c {string.Join(", ", addresses.Grpc)}"));
            Console.WriteLine(Report.Invariant($"  over mutual TLS: HTTP/1.1 {string.Join(", ", addresses.HttpTls)}; gRPC h2 {string.Join(", ", addresses.GrpcTls)}"));
            var targets = Select(await CreateTargetsAsync(addresses, nginx, pki, disposables, cancellationToken).ConfigureAwait(false), options.Rows);
            var serverPid = server.Id;
            var tallies = targets.Select(t => new Tally(t, () => ProcessCpu.Of(serverPid))).ToArray();

            foreach (var tally in tallies)
            {
                using var scope = tally.Target.Scope?.Invoke();
                await WarmUpAsync(tally, options.Concurrency, options.Warmup * 4, cancellationToken).ConfigureAwait(false);
            }

            for (var round = 1; round <= options.Rounds; round++)
            {
                foreach (var tally in tallies)
                {
                    await MeasureAsync(tally, options, cancellationToken).ConfigureAwait(false);
                }

                Console.WriteLine(Report.Invariant($"  round {round}/{options.Rounds}: ") + string.Join(", ", tallies.Select(t => Report.Invariant($"{t.Target.Name} {t.RoundThroughput[^1]:0} req/s"))));
            }

            var rows = Rows(tallies);
            var goals = Goals(rows);
            Print(rows, goals, options);
            if (options.AllocationProfile)
            {
                PrintAllocationProfile(tallies);
            }

            Console.WriteLine($"Load average after the run: {Report.LoadAverage()}");
            runs?.Add(rows);
            if (outPath is { } path)
            {
                await Report.WriteAsync(path, new ComparisonDocument(
                    "comparison",
                    Report.Machine(),
                    new ComparisonSettings(options.Rounds, options.Warmup, options.Duration, options.Duration, options.Concurrency, 3, "GET /items/1 (HTTP/1.1, 26-byte JSON answer); gRPC Inventory.GetItem (h2c); the -tls and -mtls rows the same over mutual TLS (ECDSA P-256 certificates, gRPC h2 by ALPN)"),
                    rows,
                    goals)).ConfigureAwait(false);
            }

            return rows.Any(r => r.Errors > 0) ? 1 : 0;
        }
        finally
        {
            foreach (var disposable in Enumerable.Reverse(disposables))
            {
                disposable.Dispose();
            }

            ChildProcesses.Stop(server);
        }
    }

    private static async Task<List<Target>> CreateTargetsAsync(Addresses addresses, string? nginx, BenchPki pki, List<IDisposable> disposables, CancellationToken cancellationToken)
    {
        var http = addresses.Http.Select(a => new Uri(new Uri(a), "/items/1")).ToArray();
        var targets = new List<Target>();

        // bare: one HttpClient, the caller itself taking the three backends in turn, so the backends see the same load as under the mesh.
        var bare = new HttpClient(new SocketsHttpHandler()) { Timeout = CallTimeout };
        disposables.Add(bare);
        var next = 0;
        targets.Add(new Target("bare", "http", "bare", ct => GetAsync(bare, http[(int)((uint)Interlocked.Increment(ref next) % http.Length)], ct)));

        // mesh: the default policy, PeakEwma, default retry with its budget, breaker and outlier detection, telemetry with no listener.
        var meshProvider = MeshProvider(addresses.Http, addresses.Grpc, null);
        disposables.Add(meshProvider);
        var meshed = meshProvider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");
        var logical = new Uri("http://backend/items/1");
        targets.Add(new Target("mesh", "http", "bare", ct => GetAsync(meshed, logical, ct), Over: "factory"));

        // factory: a plain client from IHttpClientFactory (its logging handlers, no mesh), to tell the factory's cost from the mesh's.
        var factory = meshProvider.GetRequiredService<IHttpClientFactory>().CreateClient("factory");
        targets.Add(new Target("factory", "http", "bare", ct => GetAsync(factory, http[(int)((uint)Interlocked.Increment(ref next) % http.Length)], ct)));

        // factory+Nus: 'factory' with a handler that spins N microseconds per call, allocating nothing: what a known cost per call shows up as.
        foreach (var us in CalibrationMicroseconds)
        {
            var spun = meshProvider.GetRequiredService<IHttpClientFactory>().CreateClient($"factory+{us}us");
            targets.Add(new Target($"factory+{us}us", "http", "bare", ct => GetAsync(spun, http[(int)((uint)Interlocked.Increment(ref next) % http.Length)], ct), Over: "factory"));
        }

        // mesh+feature: the same client to a service of its own with one optional feature more, each reported as its cost over 'mesh'.
        foreach (var (feature, service) in FeatureServices)
        {
            var uri = new Uri($"http://{service}/items/1");
            targets.Add(new Target($"mesh+{feature}", "http", "bare", ct => GetAsync(meshed, uri, ct), Over: "mesh"));
        }

        // mesh+otel: 'mesh' with the OpenTelemetry SDK collecting the mesh's spans and metrics (no exporter), only while the row runs.
        targets.Add(new Target("mesh+otel", "http", "bare", ct => GetAsync(meshed, logical, ct), Over: "mesh", Scope: OpenTelemetryScope.Start));

        // standard: Microsoft.Extensions.ServiceDiscovery over the same three endpoints, with the standard resilience handler.
        var standardProvider = StandardProvider(addresses);
        disposables.Add(standardProvider);
        var standard = standardProvider.GetRequiredService<IHttpClientFactory>().CreateClient("standard");
        targets.Add(new Target("standard", "http", "bare", ct => GetAsync(standard, logical, ct)));

        // sidecar: a bare client to a client-side nginx, which forwards to a server-side nginx, which balances over the backends.
        if (nginx is not null)
        {
            var serverSide = await Nginx.StartAsync(nginx, "server-sidecar", addresses.Http.Select(a => new Uri(a)), null, null, cancellationToken).ConfigureAwait(false);
            disposables.Add(serverSide);
            var clientSide = await Nginx.StartAsync(nginx, "client-sidecar", [new Uri($"http://127.0.0.1:{serverSide.Port}")], null, null, cancellationToken).ConfigureAwait(false);
            disposables.Add(clientSide);
            Console.WriteLine(Report.Invariant($"Sidecars: client-side nginx pid {clientSide.Pid} on port {clientSide.Port} -> server-side nginx pid {serverSide.Pid} on port {serverSide.Port}"));
            var viaSidecar = new HttpClient(new SocketsHttpHandler()) { Timeout = CallTimeout };
            disposables.Add(viaSidecar);
            var sidecarUri = new Uri($"http://127.0.0.1:{clientSide.Port}/items/1");
            targets.Add(new Target("sidecar", "http", "bare", ct => GetAsync(viaSidecar, sidecarUri, ct), () => clientSide.CpuTime() + serverSide.CpuTime()));
        }

        // bare-tls: 'bare' over mutual TLS straight to the TLS backends, with the client's certificate: the fair baseline of mesh-mtls.
        var httpTls = addresses.HttpTls.Select(a => new Uri(new Uri(a), "/items/1")).ToArray();
        var bareTls = new HttpClient(new SocketsHttpHandler { SslOptions = pki.ClientSslOptions() }) { Timeout = CallTimeout };
        disposables.Add(bareTls);
        targets.Add(new Target("bare-tls", "http", "bare", ct => GetAsync(bareTls, httpTls[(int)((uint)Interlocked.Increment(ref next) % httpTls.Length)], ct), TlsBaseline: "bare-tls"));

        // mesh-mtls: 'mesh' with a workload identity from files, to the same service whose endpoints must present the backends' SPIFFE ID.
        var meshTlsProvider = MeshProvider(addresses.HttpTls, addresses.GrpcTls, pki);
        disposables.Add(meshTlsProvider);
        var handshakes = new HandshakeCounter(meshTlsProvider.GetRequiredService<IMeterFactory>());
        disposables.Add(handshakes);
        var meshedTls = meshTlsProvider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");
        targets.Add(new Target("mesh-mtls", "http", "bare", ct => GetAsync(meshedTls, logical, ct), TlsBaseline: "bare-tls", Handshakes: () => handshakes.Count, Over: "mesh"));

        // sidecar-tls: the sidecar pair with mutual TLS between the two nginx; the hops on each side stay plaintext on loopback, as in a pod.
        if (nginx is not null)
        {
            var serverSide = await Nginx.StartAsync(
                nginx, "server-sidecar-tls", addresses.Http.Select(a => new Uri(a)), new NginxListenTls(pki.BackendPath, pki.BackendKeyPath, pki.RootPath), null, cancellationToken).ConfigureAwait(false);
            disposables.Add(serverSide);
            var clientSide = await Nginx.StartAsync(
                nginx, "client-sidecar-tls", [new Uri($"https://127.0.0.1:{serverSide.Port}")], null, new NginxUpstreamTls(pki.ClientPath, pki.ClientKeyPath, pki.RootPath, BenchPki.BackendDnsName), cancellationToken).ConfigureAwait(false);
            disposables.Add(clientSide);
            Console.WriteLine(Report.Invariant($"Sidecars over mutual TLS: client-side nginx pid {clientSide.Pid} on port {clientSide.Port} -> server-side nginx pid {serverSide.Pid} on port {serverSide.Port} (TLS)"));
            var viaSidecar = new HttpClient(new SocketsHttpHandler()) { Timeout = CallTimeout };
            disposables.Add(viaSidecar);
            var sidecarUri = new Uri($"http://127.0.0.1:{clientSide.Port}/items/1");
            targets.Add(new Target("sidecar-tls", "http", "bare", ct => GetAsync(viaSidecar, sidecarUri, ct), () => clientSide.CpuTime() + serverSide.CpuTime(), TlsBaseline: "bare-tls"));
        }

        // grpc-bare: a GrpcChannel per backend, taken in turn by the caller.
        var channels = addresses.Grpc.Select(a => GrpcChannel.ForAddress(a, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true } })).ToArray();
        disposables.AddRange(channels);
        var bareGrpc = channels.Select(c => new Inventory.InventoryClient(c)).ToArray();
        var nextGrpc = 0;
        var item = new ItemRequest { Sku = "a" };
        targets.Add(new Target("grpc-bare", "grpc", "grpc-bare", async ct =>
            await bareGrpc[(int)((uint)Interlocked.Increment(ref nextGrpc) % bareGrpc.Length)].GetItemAsync(item, cancellationToken: ct).ConfigureAwait(false)));

        // grpc-mesh: the generated client from AddGrpcClient(...).AddMesh(), same mesh settings as 'mesh'.
        var meshGrpc = meshProvider.GetRequiredService<Inventory.InventoryClient>();
        targets.Add(new Target("grpc-mesh", "grpc", "grpc-bare", async ct => await meshGrpc.GetItemAsync(item, cancellationToken: ct).ConfigureAwait(false)));

        // grpc-bare-tls: 'grpc-bare' over mutual TLS (h2 by ALPN), with the client's certificate.
        var tlsChannels = addresses.GrpcTls.Select(a => GrpcChannel.ForAddress(a, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, SslOptions = pki.ClientSslOptions() } })).ToArray();
        disposables.AddRange(tlsChannels);
        var bareGrpcTls = tlsChannels.Select(c => new Inventory.InventoryClient(c)).ToArray();
        targets.Add(new Target("grpc-bare-tls", "grpc", "grpc-bare", async ct =>
            await bareGrpcTls[(int)((uint)Interlocked.Increment(ref nextGrpc) % bareGrpcTls.Length)].GetItemAsync(item, cancellationToken: ct).ConfigureAwait(false), TlsBaseline: "grpc-bare-tls"));

        // grpc-mesh-mtls: 'grpc-mesh' with the workload identity, to the TLS gRPC backends.
        var meshGrpcTls = meshTlsProvider.GetRequiredService<Inventory.InventoryClient>();
        targets.Add(new Target("grpc-mesh-mtls", "grpc", "grpc-bare", async ct => await meshGrpcTls.GetItemAsync(item, cancellationToken: ct).ConfigureAwait(false), TlsBaseline: "grpc-bare-tls", Handshakes: () => handshakes.Count));
        return targets;
    }

    /// <summary>The spins of the calibration rows, in microseconds per call.</summary>
    private static readonly int[] CalibrationMicroseconds = [2, 4];

    /// <summary>The optional features measured over 'mesh', each on a service of its own over the same backends (OpenTelemetry aside: it listens to every service).</summary>
    private static readonly (string Feature, string Service)[] FeatureServices =
    [
        ("rate-limit", "backend-rate-limit"),
        ("hedging", "backend-hedging"),
        ("attempt-timeout", "backend-attempt-timeout"),
        ("route", "backend-route"),
    ];

    /// <summary>
    /// The meshed clients of 'mesh' and 'grpc-mesh' (default policy, PeakEwma), and without <paramref name="pki"/> the
    /// services of the feature rows; with it, a workload identity from its files and endpoints that must present the
    /// backends' SPIFFE ID.
    /// </summary>
    private static ServiceProvider MeshProvider(IReadOnlyList<string> http, IReadOnlyList<string> grpc, BenchPki? pki)
    {
        var config = new Dictionary<string, string?>();
        var services = new List<(string, IReadOnlyList<string>)> { ("backend", http), ("inventory", grpc) };
        if (pki is null)
        {
            services.AddRange(FeatureServices.Select(f => (f.Service, http)));

            // A rate limit far above the load, so the limiter is on the path and never refuses.
            config["Mesh:Services:backend-rate-limit:RateLimit:PermitsPerSecond"] = "1000000";
            config["Mesh:Services:backend-rate-limit:RateLimit:Burst"] = "1000000";

            // Hedging armed, its delay far past any answer here, so no hedge is sent.
            config["Mesh:Services:backend-hedging:Hedging:Delay"] = "00:00:02";
            config["Mesh:Services:backend-hedging:Hedging:MaxAttempts"] = "2";

            // An attempt timeout no attempt reaches.
            config["Mesh:Services:backend-attempt-timeout:AttemptTimeout"] = "00:00:05";

            // Four routes, ranked by the router; the call's path matches the third, a prefix with a header-free match.
            const string route = "Mesh:Services:backend-route:Routes:";
            config[route + "0:Name"] = "admin";
            config[route + "0:Match:Path:Value"] = "/admin";
            config[route + "1:Name"] = "canary";
            config[route + "1:Match:Path:Value"] = "/items";
            config[route + "1:Match:Headers:0:Name"] = "x-canary";
            config[route + "1:Match:Headers:0:Value"] = "1";
            config[route + "2:Name"] = "items";
            config[route + "2:Match:Path:Value"] = "/items";
            config[route + "3:Name"] = "orders";
            config[route + "3:Match:Path:Type"] = "Exact";
            config[route + "3:Match:Path:Value"] = "/orders";
        }

        foreach (var (service, endpoints) in services)
        {
            config[$"Mesh:Services:{service}:LoadBalancer"] = "PeakEwma";
            for (var i = 0; i < endpoints.Count; i++)
            {
                if (pki is null)
                {
                    config[$"Mesh:Services:{service}:Endpoints:{i}"] = endpoints[i];
                }
                else
                {
                    config[$"Mesh:Services:{service}:Endpoints:{i}:Address"] = endpoints[i];
                    config[$"Mesh:Services:{service}:Endpoints:{i}:Identity"] = BenchPki.BackendId;
                }
            }
        }

        if (pki is not null)
        {
            config["Mesh:Identity:Source"] = "files";
            config["Mesh:Identity:TrustDomain"] = BenchPki.TrustDomain;
            config["Mesh:Identity:CertificatePath"] = pki.ClientPath;
            config["Mesh:Identity:KeyPath"] = pki.ClientKeyPath;
            config["Mesh:Identity:BundlePath"] = pki.RootPath;
        }

        var collection = new ServiceCollection();
        collection.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        collection.AddMesh();
        collection.AddHttpClient("mesh").AddMesh();
        collection.AddHttpClient("factory");
        foreach (var us in CalibrationMicroseconds)
        {
            collection.AddHttpClient($"factory+{us}us").AddHttpMessageHandler(() => new SpinHandler(TimeSpan.FromMicroseconds(us)));
        }
        collection.AddGrpcClient<Inventory.InventoryClient>(o => o.Address = new Uri("http://inventory")).AddMesh();
        return collection.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }

    private static ServiceProvider StandardProvider(Addresses addresses)
    {
        var config = new Dictionary<string, string?>();
        for (var i = 0; i < addresses.Http.Count; i++)
        {
            var uri = new Uri(addresses.Http[i]);
            config[$"services:backend:http:{i}"] = $"{uri.Host}:{uri.Port}";
        }

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        services.AddServiceDiscovery();
        services.AddHttpClient("standard").AddStandardResilienceHandler();
        services.AddHttpClient("standard").AddServiceDiscovery();
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }

    private static async Task GetAsync(HttpClient client, Uri uri, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(uri, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{uri} answered {(int)response.StatusCode}", null, response.StatusCode);
        }
    }

    /// <summary>Runs a configuration unmeasured, except for its calls and handshakes, which count toward handshakes per 1000 requests.</summary>
    private static async Task WarmUpAsync(Tally tally, int concurrency, double seconds, CancellationToken cancellationToken)
    {
        var handshakes0 = tally.Target.Handshakes?.Invoke() ?? 0;
        var warm = await ClosedLoopAsync(tally.Target.Call, concurrency, seconds, null, cancellationToken).ConfigureAwait(false);
        tally.Calls += warm.Succeeded + warm.Failed;
        tally.Handshakes += (tally.Target.Handshakes?.Invoke() ?? 0) - handshakes0;
    }

    /// <summary>
    /// The configurations <paramref name="names"/> asks for (all without it), in the order they were made. Only those:
    /// a ratio whose baseline is not among them reads 0, so a profile can run one configuration alone.
    /// </summary>
    private static List<Target> Select(List<Target> targets, IReadOnlyCollection<string>? names)
    {
        if (names is null)
        {
            return targets;
        }

        var unknown = names.Where(n => targets.All(t => t.Name != n)).ToList();
        if (unknown.Count > 0)
        {
            throw new UsageException($"--rows: no configuration named {string.Join(", ", unknown)}; there are {string.Join(", ", targets.Select(t => t.Name))}");
        }

        return targets.FindAll(t => names.Contains(t.Name));
    }

    private static async Task MeasureAsync(Tally tally, BenchOptions options, CancellationToken cancellationToken)
    {
        using var scope = tally.Target.Scope?.Invoke();
        var call = tally.Target.Call;
        await WarmUpAsync(tally, options.Concurrency, options.Warmup, cancellationToken).ConfigureAwait(false);

        var handshakes0 = tally.Target.Handshakes?.Invoke() ?? 0;
        var roundStart = tally.Latencies.Count;
        var latency = await ClosedLoopAsync(call, 1, options.Duration, tally.Latencies, cancellationToken).ConfigureAwait(false);
        var round = tally.Latencies.GetRange(roundStart, tally.Latencies.Count - roundStart).ToArray();
        Array.Sort(round);
        tally.RoundP50.Add(Math.Round(Report.PercentileMs(round, 0.5), 4));
        tally.LatencyRequests += latency.Succeeded;
        tally.Errors += latency.Failed;

        var proxy0 = tally.Target.ProxyCpu?.Invoke() ?? TimeSpan.Zero;
        var backend0 = tally.BackendCpuTime();
        var cpu0 = Environment.CpuUsage.TotalTime;
        var allocated0 = GC.GetTotalAllocatedBytes(precise: true);
        var profile = options.AllocationProfile ? new AllocationProfile() : null;
        var load = await ClosedLoopAsync(call, options.Concurrency, options.Duration, null, cancellationToken).ConfigureAwait(false);
        profile?.Dispose();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated0;
        if (profile is not null)
        {
            foreach (var (type, bytes) in profile.Bytes)
            {
                tally.AllocatedByType[type] = tally.AllocatedByType.GetValueOrDefault(type) + bytes;
            }
        }
        var cpu = Environment.CpuUsage.TotalTime - cpu0;
        var proxy = (tally.Target.ProxyCpu?.Invoke() ?? TimeSpan.Zero) - proxy0;
        tally.BackendCpu += tally.BackendCpuTime() - backend0;
        tally.Handshakes += (tally.Target.Handshakes?.Invoke() ?? 0) - handshakes0;
        tally.Calls += latency.Succeeded + latency.Failed + load.Succeeded + load.Failed;

        tally.Requests += load.Succeeded;
        tally.Errors += load.Failed;
        tally.ElapsedSeconds += load.Seconds;
        tally.Cpu += cpu;
        tally.ProxyCpu += proxy;
        tally.Allocated += allocated;
        tally.RoundThroughput.Add(load.Succeeded / load.Seconds);
    }

    /// <summary>Runs <paramref name="concurrency"/> callers back to back for <paramref name="seconds"/>; each stops by itself at the end.</summary>
    private static async Task<(long Succeeded, long Failed, double Seconds)> ClosedLoopAsync(
        Func<CancellationToken, Task> call, int concurrency, double seconds, List<long>? latencies, CancellationToken cancellationToken)
    {
        using var phase = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        phase.CancelAfter(TimeSpan.FromSeconds(seconds) + CallTimeout);
        var token = phase.Token;
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(seconds * Stopwatch.Frequency);

        async Task<(long, long)> Caller()
        {
            await Task.Yield();
            long succeeded = 0, failed = 0;
            while (Stopwatch.GetTimestamp() < end)
            {
                var t0 = Stopwatch.GetTimestamp();
                try
                {
                    await call(token).ConfigureAwait(false);
                    succeeded++;
                    latencies?.Add(Stopwatch.GetTimestamp() - t0);
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException or global::Grpc.Core.RpcException && !cancellationToken.IsCancellationRequested)
                {
                    failed++;
                }
            }

            return (succeeded, failed);
        }

        var results = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Caller())).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return (results.Sum(r => r.Item1), results.Sum(r => r.Item2), elapsed);
    }

    private static List<ComparisonRow> Rows(Tally[] tallies)
    {
        var figures = tallies.ToDictionary(t => t.Target.Name, t => t.Figures());
        return [.. tallies.Select(t =>
        {
            var f = figures[t.Target.Name];
            var tlsBaseline = t.Target.TlsBaseline is { } name && figures.TryGetValue(name, out var tls) ? tls : default((double, double, double, double, double, double, double, double)?);
            return new ComparisonRow(
                t.Target.Name, t.Target.Group, t.Target.Baseline, t.LatencyRequests, t.Requests, t.Errors,
                Math.Round(f.P50, 4), Math.Round(f.P90, 4), Math.Round(f.P99, 4), Math.Round(f.Throughput, 1),
                Math.Round(f.Cpu, 2), Math.Round(f.ProxyCpu, 2), Math.Round(f.BackendCpu, 2), Math.Round(f.Alloc, 0),
                [.. t.RoundThroughput.Select(x => Math.Round(x, 1))], t.RoundP50, Ratios(f, figures.GetValueOrDefault(t.Target.Baseline)))
            {
                TlsBaseline = tlsBaseline is null ? null : t.Target.TlsBaseline,
                Over = t.Target.Over is { } over && figures.TryGetValue(over, out var under) ? over : null,
                Extra = t.Target.Over is { } o && figures.TryGetValue(o, out var u) ? Extra(f, u) : null,
                TlsRatios = tlsBaseline is { } b ? Ratios(f, b) : null,
                Handshakes = t.Target.Handshakes is null ? null : t.Handshakes,
                HandshakesPer1000Requests = t.Target.Handshakes is null ? null : Math.Round(t.Handshakes * 1000.0 / Math.Max(1, t.Calls), 3),
            };
        })];
    }

    /// <summary>What a row costs beyond the row it is measured over: CPU µs and bytes per request added, latency and throughput as ratios.</summary>
    private static Dictionary<string, double> Extra(
        (double P50, double P90, double P99, double Throughput, double Cpu, double ProxyCpu, double BackendCpu, double Alloc) f,
        (double P50, double P90, double P99, double Throughput, double Cpu, double ProxyCpu, double BackendCpu, double Alloc) b) => new()
    {
        ["cpuUs"] = Math.Round(f.Cpu - b.Cpu, 2),
        ["allocBytes"] = Math.Round(f.Alloc - b.Alloc, 0),
        ["p50"] = Report.Ratio(f.P50, b.P50),
        ["p99"] = Report.Ratio(f.P99, b.P99),
        ["throughput"] = Report.Ratio(f.Throughput, b.Throughput),
    };

    private static Dictionary<string, double> Ratios(
        (double P50, double P90, double P99, double Throughput, double Cpu, double ProxyCpu, double BackendCpu, double Alloc) f,
        (double P50, double P90, double P99, double Throughput, double Cpu, double ProxyCpu, double BackendCpu, double Alloc) b) => new()
    {
        ["p50"] = Report.Ratio(f.P50, b.P50),
        ["p90"] = Report.Ratio(f.P90, b.P90),
        ["p99"] = Report.Ratio(f.P99, b.P99),
        ["throughput"] = Report.Ratio(f.Throughput, b.Throughput),
        ["cpu"] = Report.Ratio(f.Cpu, b.Cpu),
        ["cpuWithProxies"] = Report.Ratio(f.Cpu + f.ProxyCpu, b.Cpu + b.ProxyCpu),
        ["alloc"] = Report.Ratio(f.Alloc, b.Alloc),
    };

    private static List<Goal> Goals(List<ComparisonRow> rows)
    {
        var goals = new List<Goal>();
        var byName = rows.ToDictionary(r => r.Name);
        foreach (var (meshed, bare) in new[] { ("mesh", "bare"), ("grpc-mesh", "grpc-bare"), ("mesh-mtls", "bare-tls"), ("grpc-mesh-mtls", "grpc-bare-tls") })
        {
            if (!byName.TryGetValue(meshed, out var m) || !byName.ContainsKey(bare))
            {
                continue;
            }

            var ratios = m.Baseline == bare ? m.Ratios : m.TlsRatios!;
            goals.Add(new Goal($"{meshed} p50 <= 1.05x {bare}", ratios["p50"], ratios["p50"] <= 1.05));
            goals.Add(new Goal($"{meshed} throughput >= 0.95x {bare}", ratios["throughput"], ratios["throughput"] >= 0.95));
        }

        // The mesh's own cost: over the plain factory client it is built on, and against the standard stack on every figure.
        if (byName.TryGetValue("mesh", out var mesh) && mesh.Extra is { } own)
        {
            goals.Add(new Goal("mesh CPU/request over factory <= 3 us", own["cpuUs"], own["cpuUs"] <= 3));
            goals.Add(new Goal("mesh bytes/request over factory <= 512 B", own["allocBytes"], own["allocBytes"] <= 512));
            goals.Add(new Goal("mesh throughput >= 0.95x factory", own["throughput"], own["throughput"] >= 0.95));
        }

        if (mesh is not null && byName.TryGetValue("standard", out var standard))
        {
            goals.Add(new Goal("mesh p50 below standard (ratio mesh/standard)", Report.Ratio(mesh.P50Ms, standard.P50Ms), mesh.P50Ms < standard.P50Ms));
            goals.Add(new Goal("mesh p99 below standard (ratio mesh/standard)", Report.Ratio(mesh.P99Ms, standard.P99Ms), mesh.P99Ms < standard.P99Ms));
            goals.Add(new Goal("mesh throughput above standard (ratio mesh/standard)", Report.Ratio(mesh.ThroughputRps, standard.ThroughputRps), mesh.ThroughputRps > standard.ThroughputRps));
            goals.Add(new Goal("mesh CPU/request below standard (ratio mesh/standard)", Report.Ratio(mesh.CpuUsPerRequest, standard.CpuUsPerRequest), mesh.CpuUsPerRequest < standard.CpuUsPerRequest));
            goals.Add(new Goal("mesh bytes/request below standard (ratio mesh/standard)", Report.Ratio(mesh.AllocBytesPerRequest, standard.AllocBytesPerRequest), mesh.AllocBytesPerRequest < standard.AllocBytesPerRequest));
        }

        if (mesh is not null && byName.TryGetValue("sidecar", out var sidecar))
        {
            SidecarGoals(goals, mesh, sidecar, withBackends: false);
        }

        if (byName.TryGetValue("mesh-mtls", out var meshTls) && byName.TryGetValue("sidecar-tls", out var sidecarTls))
        {
            // With TLS the mesh's backends decrypt where the sidecar's server-side nginx does, so CPU counts the backends on both sides.
            SidecarGoals(goals, meshTls, sidecarTls, withBackends: true);
        }

        return goals;
    }

    private static void SidecarGoals(List<Goal> goals, ComparisonRow mesh, ComparisonRow sidecar, bool withBackends)
    {
        var (m, s) = (mesh.Name, sidecar.Name);
        goals.Add(new Goal($"{m} p50 below {s} (ratio {m}/{s})", Report.Ratio(mesh.P50Ms, sidecar.P50Ms), mesh.P50Ms < sidecar.P50Ms));
        goals.Add(new Goal($"{m} p90 below {s} (ratio {m}/{s})", Report.Ratio(mesh.P90Ms, sidecar.P90Ms), mesh.P90Ms < sidecar.P90Ms));
        goals.Add(new Goal($"{m} p99 below {s} (ratio {m}/{s})", Report.Ratio(mesh.P99Ms, sidecar.P99Ms), mesh.P99Ms < sidecar.P99Ms));
        goals.Add(new Goal($"{m} throughput above {s} (ratio {m}/{s})", Report.Ratio(mesh.ThroughputRps, sidecar.ThroughputRps), mesh.ThroughputRps > sidecar.ThroughputRps));
        if (withBackends)
        {
            var meshCpu = mesh.CpuUsPerRequest + mesh.BackendCpuUsPerRequest;
            var sidecarCpu = sidecar.CpuUsPerRequest + sidecar.ProxyCpuUsPerRequest + sidecar.BackendCpuUsPerRequest;
            goals.Add(new Goal($"{m} CPU/request with its backends below {s} client + nginx pair + backends (ratio)", Report.Ratio(meshCpu, sidecarCpu), meshCpu < sidecarCpu));
        }
        else
        {
            goals.Add(new Goal($"{m} CPU/request below {s} client + nginx pair (ratio)", Report.Ratio(mesh.CpuUsPerRequest, sidecar.CpuUsPerRequest + sidecar.ProxyCpuUsPerRequest), mesh.CpuUsPerRequest < sidecar.CpuUsPerRequest + sidecar.ProxyCpuUsPerRequest));
        }

        goals.Add(new Goal($"{m} bytes/request below {s}'s client process (nginx's own memory not counted) (ratio)", Report.Ratio(mesh.AllocBytesPerRequest, sidecar.AllocBytesPerRequest), mesh.AllocBytesPerRequest < sidecar.AllocBytesPerRequest));
    }

    private static void Print(List<ComparisonRow> rows, List<Goal> goals, BenchOptions options)
    {
        Console.WriteLine();
        Console.WriteLine(Report.Invariant($"Latency at concurrency 1, throughput, CPU and allocations at concurrency {options.Concurrency}; (x) = ratio to the bare client of the same protocol in this run."));
        Console.WriteLine("CPU is this client process's; 'nginx us/req' is the two sidecar processes' own, on top; 'backend us/req' the backend process's (10 ms ticks).");
        Console.WriteLine();
        Console.Write(Report.Table(
            ["configuration", "p50 ms", "p90 ms", "p99 ms", "req/s", "CPU us/req", "nginx us/req", "backend us/req", "alloc B/req", "handshakes/1k", "errors"],
            rows.Select(r => new[]
            {
                r.Name,
                Report.WithRatio(r.P50Ms, r.Ratios["p50"], "0.000"),
                Report.WithRatio(r.P90Ms, r.Ratios["p90"], "0.000"),
                Report.WithRatio(r.P99Ms, r.Ratios["p99"], "0.000"),
                Report.WithRatio(r.ThroughputRps, r.Ratios["throughput"], "0"),
                Report.WithRatio(r.CpuUsPerRequest, r.Ratios["cpu"], "0.0"),
                r.ProxyCpuUsPerRequest > 0 ? Report.Number(r.ProxyCpuUsPerRequest, "0.0") : "-",
                Report.Number(r.BackendCpuUsPerRequest, "0.0"),
                Report.WithRatio(r.AllocBytesPerRequest, r.Ratios["alloc"], "0"),
                r.HandshakesPer1000Requests is { } handshakes ? Report.Number(handshakes, "0.000") : "-",
                r.Errors.ToString(System.Globalization.CultureInfo.InvariantCulture),
            })));
        Console.WriteLine();
        Console.WriteLine("Mutual TLS rows, (x) = ratio to the bare client of the same protocol over mutual TLS in this run; handshakes over all of the row's calls, warm-ups included:");
        Console.WriteLine();
        Console.Write(Report.Table(
            ["configuration", "p50 ms", "p99 ms", "req/s", "CPU us/req", "+nginx+backend us/req", "alloc B/req", "handshakes", "per 1k calls"],
            rows.Where(r => r.TlsRatios is not null).Select(r => new[]
            {
                r.Name,
                Report.WithRatio(r.P50Ms, r.TlsRatios!["p50"], "0.000"),
                Report.WithRatio(r.P99Ms, r.TlsRatios["p99"], "0.000"),
                Report.WithRatio(r.ThroughputRps, r.TlsRatios["throughput"], "0"),
                Report.WithRatio(r.CpuUsPerRequest, r.TlsRatios["cpu"], "0.0"),
                Report.Number(r.CpuUsPerRequest + r.ProxyCpuUsPerRequest + r.BackendCpuUsPerRequest, "0.0"),
                Report.WithRatio(r.AllocBytesPerRequest, r.TlsRatios["alloc"], "0"),
                r.Handshakes is { } made ? made.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-",
                r.HandshakesPer1000Requests is { } per1000 ? Report.Number(per1000, "0.000") : "-",
            })));
        Console.WriteLine();
        Console.WriteLine("Extra cost of a row over the row it builds on (mesh over factory, each optional feature over mesh; mesh-mtls also pays TLS itself):");
        Console.WriteLine();
        Console.Write(Report.Table(
            ["configuration", "over", "+CPU us/req", "+alloc B/req", "p50", "p99", "req/s"],
            rows.Where(r => r.Extra is not null).Select(r => new[]
            {
                r.Name,
                r.Over!,
                Report.Number(r.Extra!["cpuUs"], "0.0"),
                Report.Number(r.Extra["allocBytes"], "0"),
                Report.Number(r.Extra["p50"], "0.00") + "x",
                Report.Number(r.Extra["p99"], "0.00") + "x",
                Report.Number(r.Extra["throughput"], "0.00") + "x",
            })));
        Console.WriteLine();
        Console.WriteLine("Goals:");
        foreach (var goal in goals)
        {
            Console.WriteLine(Report.Invariant($"  {(goal.Met ? "met    " : "NOT met")}  {goal.Name}: {goal.Value:0.000}"));
        }
    }

    /// <summary>Per configuration, the types that took most of its bytes, scaled to bytes per request (a sample: ticks about every 100 KB).</summary>
    private static void PrintAllocationProfile(Tally[] tallies)
    {
        foreach (var tally in tallies)
        {
            var sampled = Math.Max(1, tally.AllocatedByType.Values.Sum());
            var perRequest = tally.Allocated / (double)Math.Max(1, tally.Requests);
            Console.WriteLine();
            Console.WriteLine(Report.Invariant($"Allocation profile of {tally.Target.Name} at concurrency 32 ({perRequest:0} B/req exact; by type from {sampled / 1024 / 1024} MiB of ticks):"));
            foreach (var (type, bytes) in tally.AllocatedByType.OrderByDescending(p => p.Value).Take(25))
            {
                Console.WriteLine(Report.Invariant($"  {perRequest * bytes / sampled,7:0} B/req  {100.0 * bytes / sampled,5:0.0}%  {type}"));
            }
        }
    }

    /// <summary>The ratios of every run side by side, one column per run, to show their spread.</summary>
    private static void PrintSpread(List<List<ComparisonRow>> runs)
    {
        Console.WriteLine();
        Console.WriteLine(Report.Invariant($"Ratios to the bare client of the same protocol in each of the {runs.Count} runs (run 1 / run 2 / ...); extra over the row built on:"));
        Console.WriteLine();
        var names = runs[0].Select(r => r.Name).ToList();
        string Each(string name, Func<ComparisonRow, double> figure, string format) =>
            string.Join(" / ", runs.Select(run => run.Find(r => r.Name == name) is { } row ? Report.Number(figure(row), format) : "-"));
        Console.Write(Report.Table(
            ["configuration", "p50", "p99", "req/s", "CPU/req", "alloc/req", "+CPU us/req", "+alloc B/req"],
            names.Select(name => new[]
            {
                name,
                Each(name, r => r.Ratios["p50"], "0.00"),
                Each(name, r => r.Ratios["p99"], "0.00"),
                Each(name, r => r.Ratios["throughput"], "0.00"),
                Each(name, r => r.Ratios["cpu"], "0.00"),
                Each(name, r => r.Ratios["alloc"], "0.00"),
                runs[0].Find(r => r.Name == name)?.Extra is null ? "-" : Each(name, r => r.Extra?["cpuUs"] ?? double.NaN, "0.0"),
                runs[0].Find(r => r.Name == name)?.Extra is null ? "-" : Each(name, r => r.Extra?["allocBytes"] ?? double.NaN, "0"),
            })));
    }

    /// <summary>
    /// One configuration: how to make one call, which row is its baseline (and over mutual TLS, which its TLS baseline),
    /// (sidecar) the CPU of its proxies, (meshed over mutual TLS) the handshakes made so far, the row its extra cost is
    /// measured over, and what must be in force while it runs (a listener), disposed after.
    /// </summary>
    private sealed record Target(
        string Name, string Group, string Baseline, Func<CancellationToken, Task> Call, Func<TimeSpan>? ProxyCpu = null, string? TlsBaseline = null, Func<long>? Handshakes = null,
        string? Over = null, Func<IDisposable>? Scope = null);

    private sealed class Tally(Target target, Func<TimeSpan> backendCpuTime)
    {
        public Target Target { get; } = target;

        public Func<TimeSpan> BackendCpuTime { get; } = backendCpuTime;

        public TimeSpan BackendCpu { get; set; }

        public List<long> Latencies { get; } = [];

        public List<double> RoundThroughput { get; } = [];

        public List<double> RoundP50 { get; } = [];

        public long LatencyRequests { get; set; }

        public long Requests { get; set; }

        public long Errors { get; set; }

        public double ElapsedSeconds { get; set; }

        public TimeSpan Cpu { get; set; }

        public TimeSpan ProxyCpu { get; set; }

        public long Allocated { get; set; }

        /// <summary>Gets the bytes the allocation ticks stood for, by type, with <c>--alloc-profile</c>.</summary>
        public Dictionary<string, long> AllocatedByType { get; } = new(StringComparer.Ordinal);

        /// <summary>Gets or sets every call made, warm-ups included: what the handshakes are counted against.</summary>
        public long Calls { get; set; }

        public long Handshakes { get; set; }

        public (double P50, double P90, double P99, double Throughput, double Cpu, double ProxyCpu, double BackendCpu, double Alloc) Figures()
        {
            var sorted = Latencies.ToArray();
            Array.Sort(sorted);
            var requests = Math.Max(1, Requests);
            return (
                Report.PercentileMs(sorted, 0.50),
                Report.PercentileMs(sorted, 0.90),
                Report.PercentileMs(sorted, 0.99),
                ElapsedSeconds > 0 ? Requests / ElapsedSeconds : 0,
                Cpu.TotalMicroseconds / requests,
                ProxyCpu.TotalMicroseconds / requests,
                BackendCpu.TotalMicroseconds / requests,
                (double)Allocated / requests);
        }
    }
}

/// <summary>The JSON file of a comparison run.</summary>
internal sealed record ComparisonDocument(string Mode, MachineInfo Machine, ComparisonSettings Settings, List<ComparisonRow> Configurations, List<Goal> Goals);

internal sealed record ComparisonSettings(int Rounds, double WarmupSeconds, double LatencySeconds, double ThroughputSeconds, int Concurrency, int Backends, string Request);

/// <summary>
/// One configuration's figures over every round: latency in ms, throughput in requests/s, CPU in µs and allocations in
/// bytes per request; for the mutual TLS rows also the ratios to their TLS baseline, and for the meshed ones the handshakes.
/// </summary>
internal sealed record ComparisonRow(
    string Name, string Group, string Baseline, long LatencyRequests, long ThroughputRequests, long Errors,
    double P50Ms, double P90Ms, double P99Ms, double ThroughputRps, double CpuUsPerRequest, double ProxyCpuUsPerRequest,
    double BackendCpuUsPerRequest, double AllocBytesPerRequest, List<double> ThroughputPerRound, List<double> P50MsPerRound,
    Dictionary<string, double> Ratios)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TlsBaseline { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, double>? TlsRatios { get; init; }

    /// <summary>Gets the mutual TLS handshakes the row's client made over the whole run, warm-ups included.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Handshakes { get; init; }

    /// <summary>Gets <see cref="Handshakes"/> per 1000 of every call the row made, warm-ups included.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? HandshakesPer1000Requests { get; init; }

    /// <summary>Gets the row this one builds on: <c>factory</c> for <c>mesh</c>, <c>mesh</c> for a row with one optional feature more.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Over { get; init; }

    /// <summary>Gets the cost beyond <see cref="Over"/>: <c>cpuUs</c> and <c>allocBytes</c> added per request, <c>p50</c>, <c>p99</c> and <c>throughput</c> as ratios.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, double>? Extra { get; init; }
}

internal sealed record Goal(string Name, double Value, bool Met);

/// <summary>Spins for a fixed time on every call before passing it on, allocating nothing.</summary>
internal sealed class SpinHandler(TimeSpan spin) : DelegatingHandler
{
    private readonly long _ticks = (long)(spin.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var until = System.Diagnostics.Stopwatch.GetTimestamp() + _ticks;
        while (System.Diagnostics.Stopwatch.GetTimestamp() < until)
        {
        }

        return base.SendAsync(request, cancellationToken);
    }
}
