using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Mesh.AspNetCore.Registration;
using Mesh.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace Mesh.AspNetCore.Tests.Registration;

/// <summary>AddMeshServer() registers with a real meshd, renews its lease, and deregisters and drains before it stops.</summary>
public sealed class RegistrationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan s_drain = TimeSpan.FromMilliseconds(1500);
    private string _cache = "";

    public Task InitializeAsync()
    {
        _cache = Directory.CreateTempSubdirectory("mesh-reg-").FullName;
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_cache, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_gracefully_stopped_instance_deregisters_gets_no_request_sent_after_callers_learn_of_it_and_no_request_fails()
    {
        var ttl = TimeSpan.FromSeconds(2);
        await using var meshd = await TestMeshd.StartAsync(ttl);
        (await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""")).Dispose();
        var a = await StartServerAsync(meshd, "inv-a");
        await using var b = await StartServerAsync(meshd, "inv-b");
        await a.Registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));
        await b.Registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));
        var registered = Stopwatch.StartNew();
        Assert.Equal(a.App.Address, a.Registration.Address);

        await using var client = CallerHost(meshd);
        var catalog = client.GetRequiredService<ServiceCatalog>();
        var http = client.GetRequiredService<IHttpClientFactory>().CreateClient("meshed");
        using var stop = new CancellationTokenSource();
        var failures = new ConcurrentQueue<Exception>();
        var load = Task.WhenAll(Enumerable.Range(0, 2).Select(_ => CallAsync(http, catalog, failures, stop.Token)));

        // Renewals keep both leases beyond the TTL.
        await Eventually.WaitAsync(() => registered.Elapsed > ttl * 2 && a.Requests > 50 && b.Requests > 50, "traffic on both instances past two TTLs", TimeSpan.FromSeconds(15));
        Assert.True(catalog.TryGetService("inventory", out var before));
        Assert.Equal(2, before.Destination.Endpoints.Length);

        // Graceful stop: deregister, keep serving for the drain, then stop.
        var stopping = Stopwatch.StartNew();
        var stopped = a.DisposeAsync().AsTask();
        await Eventually.WaitAsync(() => catalog.TryGetService("inventory", out var s) && s.Destination.Endpoints.Length == 1, "the caller to drop the deregistered instance", TimeSpan.FromSeconds(5));
        var learned = stopping.Elapsed;
        var versionWithout = catalog.Version;
        Assert.False(stopped.IsCompleted, "the server stopped before its drain time");
        await stopped;
        var stopTook = stopping.Elapsed;
        var bAfter = b.Requests;
        await Eventually.WaitAsync(() => b.Requests > bAfter + 100, "traffic after the stop");
        await stop.CancelAsync();
        await load;

        output.WriteLine($"Callers dropped the instance {learned.TotalMilliseconds:0} ms after its stop began; the server stopped after {stopTook.TotalMilliseconds:0} ms (drain {s_drain.TotalMilliseconds:0} ms); it served {a.Requests} requests, the last sent under catalog version {a.Tags.Max()} (dropped in {versionWithout}).");
        Assert.Empty(failures);
        Assert.True(a.Tags.Max() < versionWithout, $"the stopped instance got a request sent under version {a.Tags.Max()}, after callers dropped it in {versionWithout}");
        Assert.True(stopTook >= s_drain, $"the server stopped after {stopTook}, before the drain of {s_drain}");
        Assert.DoesNotContain("inv-a", (await meshd.SnapshotAsync()).ToJsonString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5001", "http://127.0.0.1:5001/")]
    [InlineData("http://0.0.0.0:5001", "http://127.0.0.1:5001/")]
    [InlineData("http://[::]:5001", "http://127.0.0.1:5001/")]
    [InlineData("http://+:80", "http://127.0.0.1/")]
    [InlineData("https://*:8443", "https://127.0.0.1:8443/")]
    [InlineData("http://localhost:5000", "http://127.0.0.1:5000/")]
    [InlineData("http://10.1.2.3:8080", "http://10.1.2.3:8080/")]
    public void Bound_wildcard_and_localhost_addresses_are_advertised_as_loopback(string bound, string advertised) =>
        Assert.Equal(advertised, ServerInstance.Advertise(bound)?.ToString());

    [Fact]
    public async Task Invalid_server_settings_stop_start_up_naming_the_field()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestApp.StartAsync(
            services =>
            {
                services.AddMeshServer();
                services.Configure<MeshServerOptions>(o =>
                {
                    o.DrainTime = TimeSpan.FromSeconds(-1);
                    o.AdvertisedAddress = "http://10.0.0.5:8080/api";
                });
            },
            app => app.Run(_ => Task.CompletedTask)));

        Assert.Contains("Mesh:Server:DrainTime: -00:00:01 is out of range", error.Message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Server:AdvertisedAddress: 'http://10.0.0.5:8080/api'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_host_shutdown_timeout_leaves_room_for_the_drain_and_the_client_ignores_server_settings()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Mesh:Server:DrainTime"] = "00:00:45" }).Build());
        services.AddMeshServer();
        using var provider = services.BuildServiceProvider();

        Assert.Equal(TimeSpan.FromSeconds(55), provider.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);

        // Mesh:Server belongs to this package: the client's strict binder of the Mesh section leaves it alone.
        Assert.Equal(1, provider.GetRequiredService<ServiceCatalog>().Version);
    }

    private async Task<Server> StartServerAsync(TestMeshd meshd, string id)
    {
        var server = new Server();
        server.App = await TestApp.StartAsync(
            services =>
            {
                services.AddMeshServer();
                services.Configure<MeshOptions>(o =>
                {
                    o.ServiceName = "inventory";
                    o.ControlPlane.Address = meshd.Address.ToString();
                    o.ControlPlane.Token = TestMeshd.WorkloadToken;
                    o.ControlPlane.CacheDirectory = Path.Combine(_cache, id);
                });
                services.Configure<MeshServerOptions>(o =>
                {
                    o.InstanceId = id;
                    o.DrainTime = s_drain;
                });
            },
            app => app.Run(context =>
            {
                server.Arrived(context.Request.Headers["x-version"].ToString());
                return context.Response.WriteAsync(id);
            }));
        server.Registration = server.App.App.Services.GetRequiredService<MeshRegistration>();
        return server;
    }

    private ServiceProvider CallerHost(TestMeshd meshd)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:ServiceName"] = "checkout",
            ["Mesh:ControlPlane:Address"] = meshd.Address.ToString(),
            ["Mesh:ControlPlane:Token"] = TestMeshd.WorkloadToken,
            ["Mesh:ControlPlane:CacheDirectory"] = Path.Combine(_cache, "checkout"),
        }).Build());
        services.AddMesh();
        services.AddHttpClient("meshed").AddMesh();
        return services.BuildServiceProvider();
    }

    private static async Task CallAsync(HttpClient http, ServiceCatalog catalog, ConcurrentQueue<Exception> failures, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "http://inventory/items");
            request.Headers.Add("x-version", catalog.Version.ToString(CultureInfo.InvariantCulture));
            try
            {
                using var response = await http.SendAsync(request, CancellationToken.None);
                response.EnsureSuccessStatusCode();
            }
            catch (HttpRequestException ex)
            {
                failures.Enqueue(ex);
            }

            try
            {
                // Paced, so two cores also serve both servers and meshd.
                await Task.Delay(2, stop);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private sealed class Server : IAsyncDisposable
    {
        private readonly ConcurrentBag<long> _tags = [];
        private long _requests;
        private int _disposed;

        public TestApp App { get; set; } = null!;

        public MeshRegistration Registration { get; set; } = null!;

        public long Requests => Interlocked.Read(ref _requests);

        public IReadOnlyCollection<long> Tags => _tags;

        public void Arrived(string version)
        {
            Interlocked.Increment(ref _requests);
            _tags.Add(long.Parse(version, CultureInfo.InvariantCulture));
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                await App.DisposeAsync();
            }
        }
    }
}
