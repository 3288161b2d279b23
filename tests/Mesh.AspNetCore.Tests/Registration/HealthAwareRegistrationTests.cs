using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Http.Json;
using Mesh.AspNetCore.Registration;
using Mesh.ControlPlane.Contract;
using Mesh.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace Mesh.AspNetCore.Tests.Registration;

/// <summary>
/// With ASP.NET Core health checks, AddMeshServer() registers with a real meshd only while they pass: not before, at
/// weight 0 and then out of the registry when they fail, back at its weight when they recover.
/// </summary>
public sealed class HealthAwareRegistrationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan s_ttl = TimeSpan.FromSeconds(2);
    private string _cache = "";

    public Task InitializeAsync()
    {
        _cache = Directory.CreateTempSubdirectory("mesh-healthreg-").FullName;
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_cache, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task An_instance_whose_checks_fail_is_not_registered_and_registers_once_they_pass()
    {
        await using var meshd = await StartMeshdAsync();
        await using var a = await StartServerAsync(meshd, "inv-a", healthy: false);

        // Several runs of the checks, each failing: the instance stays out of the registry.
        await Eventually.WaitAsync(() => a.Check.Runs >= 5, "five runs of the failing check");
        Assert.Empty((await InstancesAsync(meshd)).Instances);
        Assert.Equal(RegistrationState.Waiting, a.Registration.State);
        Assert.False(a.Registration.Registered.IsCompleted);
        Assert.Contains(a.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("database: connection pool exhausted", StringComparison.Ordinal));
        Assert.DoesNotContain(a.Logs.Entries, e => e.Message.Contains("s3cr3t", StringComparison.Ordinal));

        a.Check.Healthy = true;
        await a.Registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));
        var instance = Assert.Single((await InstancesAsync(meshd)).Instances);
        Assert.Equal("inv-a", instance.InstanceId);
        Assert.Equal(3, instance.Weight);
        Assert.Equal(RegistrationState.Registered, a.Registration.State);
    }

    [Fact]
    public async Task An_instance_whose_checks_fail_drains_at_weight_0_then_deregisters_and_a_caller_under_load_loses_no_request()
    {
        await using var meshd = await StartMeshdAsync();
        await using var a = await StartServerAsync(meshd, "inv-a", healthy: true, drain: TimeSpan.FromSeconds(3));
        await using var b = await StartServerAsync(meshd, "inv-b", healthy: true);
        await a.Registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));
        await b.Registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));

        await using var client = CallerHost(meshd);
        var catalog = client.GetRequiredService<ServiceCatalog>();
        var http = client.GetRequiredService<IHttpClientFactory>().CreateClient("meshed");
        using var stop = new CancellationTokenSource();
        var failures = new ConcurrentQueue<Exception>();
        var load = Task.WhenAll(Enumerable.Range(0, 2).Select(_ => CallAsync(http, catalog, failures, stop.Token)));
        await Eventually.WaitAsync(() => a.Requests > 50 && b.Requests > 50, "traffic on both instances", TimeSpan.FromSeconds(15));

        a.Check.Healthy = false;
        InstanceStatusDocument? draining = null;
        await Eventually.WaitAsync(async () => (draining = (await InstancesAsync(meshd)).Instances.SingleOrDefault(i => i.InstanceId == "inv-a" && i.Weight == 0)) is not null, "meshd to show inv-a at weight 0");
        Assert.Equal(RegistrationState.Draining, a.Registration.State);

        // The caller stops picking it as soon as it sees weight 0; the version it saw that in is the last a request may carry.
        await Eventually.WaitAsync(() => catalog.TryGetService("inventory", out var s) && s.Destination.Routable.Length == 1 && s.Destination.Endpoints.Length == 2, "the caller to see inv-a at weight 0");
        var versionDrained = catalog.Version;

        // While it drains its lease is renewed, with the instance's report, past what meshd granted when it went to weight 0.
        await Eventually.WaitAsync(async () => (await InstancesAsync(meshd)).Instances.SingleOrDefault(i => i.InstanceId == "inv-a") is { Weight: 0 } i && i.LeaseExpiresAt > draining!.LeaseExpiresAt && i.Report is not null, "a renewal of inv-a's lease during its drain");

        // Then it leaves the registry; the caller drops it.
        await Eventually.WaitAsync(async () => (await InstancesAsync(meshd)).Instances.All(i => i.InstanceId != "inv-a"), "inv-a to be deregistered after its drain", TimeSpan.FromSeconds(15));
        await Eventually.WaitAsync(() => a.Registration.State == RegistrationState.Deregistered && !a.Registration.Drains, "inv-a to count itself out of the registry");
        await Eventually.WaitAsync(() => catalog.TryGetService("inventory", out var s) && s.Destination.Endpoints.Length == 1, "the caller to drop inv-a");
        var bAfter = b.Requests;
        await Eventually.WaitAsync(() => b.Requests > bAfter + 100, "traffic on inv-b after the drain");
        await stop.CancelAsync();
        await load;

        output.WriteLine($"inv-a served {a.Requests} requests, the last sent under catalog version {a.Tags.Max()}; it was at weight 0 in version {versionDrained}; inv-b served {b.Requests}; {failures.Count} failed.");
        Assert.Empty(failures);
        Assert.True(a.Tags.Max() < versionDrained, $"inv-a got a request sent under version {a.Tags.Max()}, after the caller saw it at weight 0 in {versionDrained}");
        Assert.Contains(a.Logs.Entries, e => e.Message.Contains("Draining inventory instance inv-a for failing health checks", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_instance_drained_for_failing_checks_registers_again_at_its_weight_when_they_recover_and_takes_traffic()
    {
        await using var meshd = await StartMeshdAsync();
        await using var a = await StartServerAsync(meshd, "inv-a", healthy: true, drain: TimeSpan.FromMilliseconds(300));
        await a.Registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));
        using var states = new StateListener(a.App.App.Services.GetRequiredService<IMeterFactory>());

        a.Check.Healthy = false;
        await Eventually.WaitAsync(async () => (await InstancesAsync(meshd)).Instances.Count == 0, "inv-a to drain and deregister", TimeSpan.FromSeconds(15));
        await Eventually.WaitAsync(() => states.Current("meshd", "deregistered"), "the gauge to show the instance deregistered");

        a.Check.Healthy = true;
        await Eventually.WaitAsync(async () => (await InstancesAsync(meshd)).Instances.SingleOrDefault() is { InstanceId: "inv-a", Weight: 3 }, "inv-a registered again at weight 3", TimeSpan.FromSeconds(15));
        await Eventually.WaitAsync(() => states.Current("meshd", "registered"), "the gauge to show the instance registered");
        Assert.True(a.Registration.Drains);

        await using var client = CallerHost(meshd);
        var http = client.GetRequiredService<IHttpClientFactory>().CreateClient("meshed");
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("inv-a", await http.GetStringAsync(new Uri("http://inventory/items")));
        }

        Assert.True(a.Requests >= 20);
    }

    [Fact]
    public async Task Checks_that_recover_within_the_drain_bring_the_instance_back_to_its_weight_without_leaving_the_registry()
    {
        await using var meshd = await StartMeshdAsync();
        await using var a = await StartServerAsync(meshd, "inv-a", healthy: true, drain: TimeSpan.FromMinutes(1));
        await a.Registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));

        a.Check.Healthy = false;
        await Eventually.WaitAsync(async () => (await InstancesAsync(meshd)).Instances.SingleOrDefault() is { Weight: 0 }, "inv-a at weight 0");
        a.Check.Healthy = true;
        await Eventually.WaitAsync(async () => (await InstancesAsync(meshd)).Instances.SingleOrDefault() is { Weight: 3 }, "inv-a back at weight 3");
        Assert.Equal(RegistrationState.Registered, a.Registration.State);
        Assert.DoesNotContain(a.Logs.Entries, e => e.Message.Contains("Deregistered", StringComparison.Ordinal) || e.Message.Contains("Drained", StringComparison.Ordinal));

        // A shutdown still deregisters first; its minute of drain is cut short here by the host's own deadline.
        using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await a.App.App.StopAsync(deadline.Token);
        Assert.Empty((await InstancesAsync(meshd)).Instances);
    }

    [Fact]
    public async Task Without_health_checks_of_its_own_the_instance_registers_at_once_as_before()
    {
        await using var meshd = await StartMeshdAsync();

        // Only the mesh's own check (tag ready) is registered; an interval this long would show any waiting.
        await using var a = await StartServerAsync(meshd, "inv-a", healthy: null, interval: TimeSpan.FromMinutes(5));
        Assert.False(a.App.App.Services.GetRequiredService<RegistrationHealth>().IsGated);
        await a.Registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("inv-a", Assert.Single((await InstancesAsync(meshd)).Instances).InstanceId);
    }

    [Fact]
    public async Task A_tag_chooses_the_checks_registration_waits_for()
    {
        await using var meshd = await StartMeshdAsync();

        // The failing check is untagged; with the tag "ready" only the mesh's own check counts, and it passes.
        await using var a = await StartServerAsync(meshd, "inv-a", healthy: false, tag: "ready");
        Assert.Equal("mesh", Assert.Single(a.App.App.Services.GetRequiredService<RegistrationHealth>().Selected));
        await a.Registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, a.Check.Runs);
    }

    [Fact]
    public async Task Invalid_health_settings_stop_start_up_naming_the_field()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestApp.StartAsync(
            services =>
            {
                services.AddMeshServer();
                services.Configure<MeshServerOptions>(o =>
                {
                    o.HealthCheckInterval = TimeSpan.FromMilliseconds(10);
                    o.HealthCheckTag = " ready";
                });
            },
            app => app.Run(_ => Task.CompletedTask)));

        Assert.Contains("Mesh:Server:HealthCheckInterval: 00:00:00.0100000 is out of range", error.Message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Server:HealthCheckTag: ' ready' is not a valid tag", error.Message, StringComparison.Ordinal);
    }

    private static async Task<TestMeshd> StartMeshdAsync()
    {
        var meshd = await TestMeshd.StartAsync(s_ttl);
        (await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""")).Dispose();
        return meshd;
    }

    private static async Task<ServiceStatusDocument> InstancesAsync(TestMeshd meshd) =>
        (await meshd.Admin.GetFromJsonAsync(new Uri("/v1/services/inventory", UriKind.Relative), ControlPlaneJson.Default.ServiceStatusDocument))!;

    private async Task<Server> StartServerAsync(TestMeshd meshd, string id, bool? healthy, TimeSpan? drain = null, TimeSpan? interval = null, string? tag = null)
    {
        var server = new Server();
        server.Check.Healthy = healthy ?? true;
        server.App = await TestApp.StartAsync(
            services =>
            {
                services.AddLogging(b => b.AddProvider(server.Logs));
                services.AddMeshServer();
                if (healthy is not null)
                {
                    services.AddHealthChecks().AddCheck("database", server.Check);
                }

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
                    o.Weight = 3;
                    o.DrainTime = drain ?? TimeSpan.FromSeconds(1);
                    o.HealthCheckInterval = interval ?? s_interval;
                    o.HealthCheckTag = tag;
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

        public FlipCheck Check { get; } = new();

        public LogCollector Logs { get; } = new();

        public long Requests => Interlocked.Read(ref _requests);

        public IReadOnlyCollection<long> Tags => _tags;

        public void Arrived(string version)
        {
            Interlocked.Increment(ref _requests);
            if (version.Length > 0)
            {
                _tags.Add(long.Parse(version, CultureInfo.InvariantCulture));
            }
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
