using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Chaos.Tests;

/// <summary>
/// The sample topology on loopback: gateway → orders → inventory and payments. meshd (a real one, in memory or on etcd)
/// in this process; gateway and orders are meshed ASP.NET Core services in this process (<c>AddMeshServer()</c>, meshed
/// HttpClients); inventory and payments are meshed services in child processes, two instances each, so they can be
/// killed and frozen. Every service finds the others through meshd.
/// </summary>
internal sealed class ChaosMesh : IAsyncDisposable
{
    /// <summary>The policies meshd serves: deadlines shorter at each hop, retries on another endpoint, outlier ejection.</summary>
    public const string BackendPolicy = """
        { "Timeout": "00:00:01.500", "AttemptTimeout": "00:00:00.400",
          "Retry": { "MaxAttempts": 3 },
          "OutlierDetection": { "ConsecutiveFailures": 3, "BaseEjectionTime": "00:00:02", "MaxEjectionPercent": 50 } }
        """;

    /// <summary>The gateway's call to orders: within the caller's 3 s deadline.</summary>
    public const string OrdersPolicy = """{ "Timeout": "00:00:02", "Retry": { "MaxAttempts": 1 } }""";

    private readonly TempDirectory _directory = new("chaos-");
    private readonly List<BackendProcess> _backends = [];
    private readonly List<WebApplication> _apps = [];

    private readonly TestMeshd? _meshd;

    private ChaosMesh(TestMeshd? meshd, MeshdProcess? process)
    {
        _meshd = meshd;
        MeshdProcess = process;
        MeshdAddress = meshd?.Address ?? process!.Address;
        Admin = TestMeshd.Client(MeshdAddress, TestMeshd.AdminToken);
        Workload = TestMeshd.Client(MeshdAddress, TestMeshd.WorkloadToken);
    }

    /// <summary>Gets meshd in this process.</summary>
    /// <exception cref="InvalidOperationException">meshd runs as a child process.</exception>
    public TestMeshd Meshd => _meshd ?? throw new InvalidOperationException("meshd runs as a child process here.");

    /// <summary>Gets meshd's child process, when it runs as one.</summary>
    public MeshdProcess? MeshdProcess { get; }

    /// <summary>Gets meshd's address.</summary>
    public Uri MeshdAddress { get; }

    /// <summary>Gets a client of meshd's API with the admin token.</summary>
    public HttpClient Admin { get; }

    /// <summary>Gets a client of meshd's API with the workload token.</summary>
    public HttpClient Workload { get; }

    /// <summary>Gets the gateway's address.</summary>
    public Uri Gateway { get; private set; } = null!;

    /// <summary>Gets the inventory instances.</summary>
    public List<BackendProcess> Inventory { get; } = [];

    /// <summary>Gets the payments instances.</summary>
    public List<BackendProcess> Payments { get; } = [];

    /// <summary>Gets the proxies started in front of instances.</summary>
    public Dictionary<BackendProcess, FaultProxy> Proxies { get; } = [];

    /// <summary>Gets the cache directory of the services.</summary>
    public string Directory => _directory.Path;

    /// <summary>
    /// Starts meshd (with <paramref name="meshdSettings"/>; leases of 8 s, above the 5 s cap of the registration's back-off,
    /// so an instance renews in time after meshd's return), the policies, two inventory instances (the second behind a
    /// <see cref="FaultProxy"/> when <paramref name="proxyInventory"/>), two payments instances, orders and the gateway,
    /// and waits until the gateway answers.
    /// </summary>
    public static async Task<ChaosMesh> StartAsync(bool proxyInventory = false, int backendDelayMs = 5, int capacity = 64, params (string Key, string Value)[] meshdSettings)
    {
        var meshd = await TestMeshd.StartAsync([("Meshd:SweepInterval", "00:00:00.100"), ("Meshd:LeaseTtl", "00:00:08"), .. meshdSettings]);
        return await StartServicesAsync(new ChaosMesh(meshd, null), proxyInventory, backendDelayMs, capacity);
    }

    /// <summary>Starts the topology as <see cref="StartAsync"/> does, with meshd in a child process that can be killed.</summary>
    public static async Task<ChaosMesh> StartWithMeshdProcessAsync() =>
        await StartServicesAsync(new ChaosMesh(null, await MeshdProcess.StartAsync()), proxyInventory: false, backendDelayMs: 5, capacity: 64);

    private static async Task<ChaosMesh> StartServicesAsync(ChaosMesh mesh, bool proxyInventory, int backendDelayMs, int capacity)
    {
        try
        {
            await mesh.PolicyAsync("inventory", BackendPolicy);
            await mesh.PolicyAsync("payments", BackendPolicy);
            await mesh.PolicyAsync("orders", OrdersPolicy);
            mesh.Inventory.Add(await mesh.StartBackendAsync("inventory", proxied: false, backendDelayMs, capacity));
            mesh.Inventory.Add(await mesh.StartBackendAsync("inventory", proxied: proxyInventory, backendDelayMs, capacity));
            mesh.Payments.Add(await mesh.StartBackendAsync("payments", proxied: false, backendDelayMs, capacity));
            mesh.Payments.Add(await mesh.StartBackendAsync("payments", proxied: false, backendDelayMs, capacity));
            await mesh.StartOrdersAsync();
            mesh.Gateway = await mesh.StartGatewayAsync();
            await mesh.WaitInstancesAsync("inventory", 2);
            await mesh.WaitInstancesAsync("payments", 2);
            await mesh.WaitInstancesAsync("orders", 1);
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await Eventually.WaitAsync(async () =>
            {
                try
                {
                    using var response = await client.GetAsync(new Uri(mesh.Gateway, "/order"));
                    return response.IsSuccessStatusCode;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    return false;
                }
            }, "the gateway answers through orders, inventory and payments", TimeSpan.FromSeconds(30));
            return mesh;
        }
        catch
        {
            await mesh.DisposeAsync();
            throw;
        }
    }

    /// <summary>Puts a policy through meshd's admin API.</summary>
    public async Task PolicyAsync(string service, string json)
    {
        using var response = await Admin.PutAsync(new Uri($"/v1/policies/{service}", UriKind.Relative), TestMeshd.Json(json));
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Starts one more backend of <paramref name="service"/>, behind a <see cref="FaultProxy"/> when <paramref name="proxied"/>.</summary>
    public async Task<BackendProcess> StartBackendAsync(string service, bool proxied = false, int delayMs = 5, int capacity = 64)
    {
        FaultProxy? proxy = null;
        BackendProcess backend;
        if (proxied)
        {
            backend = await LoopbackPorts.StartAsync(1, async ports =>
            {
                proxy = FaultProxy.Start(new Uri($"http://127.0.0.1:{ports[0].ToString(CultureInfo.InvariantCulture)}"));
                try
                {
                    return await BackendProcess.StartAsync(service, MeshdAddress, Directory, ports[0], _ => proxy.Address, delayMs, capacity);
                }
                catch
                {
                    await proxy.DisposeAsync();
                    throw;
                }
            });
            Proxies[backend] = proxy!;
        }
        else
        {
            backend = await BackendProcess.StartAsync(service, MeshdAddress, Directory, 0, null, delayMs, capacity);
        }

        lock (_backends)
        {
            _backends.Add(backend);
        }

        return backend;
    }

    /// <summary>Waits until meshd lists <paramref name="count"/> instances of <paramref name="service"/>.</summary>
    public Task WaitInstancesAsync(string service, int count) =>
        Eventually.WaitAsync(async () => await InstancesAsync(service) == count, $"{count} instance(s) of {service} in meshd", TimeSpan.FromSeconds(30));

    /// <summary>Gets how many instances of <paramref name="service"/> meshd lists (-1 while meshd is away).</summary>
    public async Task<int> InstancesAsync(string service)
    {
        if (_meshd is { IsRunning: false })
        {
            return -1;
        }

        try
        {
            using var response = await Workload.GetAsync(new Uri("/v1/snapshot", UriKind.Relative));
            response.EnsureSuccessStatusCode();
            var snapshot = await response.Content.ReadFromJsonAsync<JsonObject>();
            return snapshot?["services"]?[service]?["instances"]?.AsArray().Count ?? 0;
        }
        catch (HttpRequestException)
        {
            return -1;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        lock (_backends)
        {
            foreach (var backend in _backends)
            {
                backend.Dispose();
            }
        }

        foreach (var proxy in Proxies.Values)
        {
            await proxy.DisposeAsync();
        }

        if (_meshd is not null)
        {
            await _meshd.DisposeAsync();
        }

        MeshdProcess?.Dispose();
        Admin.Dispose();
        Workload.Dispose();
        _directory.Dispose();
    }

    private async Task StartOrdersAsync()
    {
        await StartAppAsync("orders", services =>
        {
            services.AddHttpClient("inventory", c => c.BaseAddress = new Uri("http://inventory")).AddMesh();
            services.AddHttpClient("payments", c => c.BaseAddress = new Uri("http://payments")).AddMesh();
        }, app => app.MapGet("/order", async (HttpContext context, IHttpClientFactory clients) =>
        {
            // Stock and charge at once; an order needs both.
            var stock = CallAsync(clients.CreateClient("inventory"), context.RequestAborted);
            var charge = CallAsync(clients.CreateClient("payments"), context.RequestAborted);
            var answers = await Task.WhenAll(stock, charge);
            return answers.All(a => a is null)
                ? Results.Text("ok")
                : Results.Text(string.Join("; ", answers.Where(a => a is not null)), statusCode: StatusCodes.Status503ServiceUnavailable);
        }));
    }

    private async Task<Uri> StartGatewayAsync() =>
        await StartAppAsync("gateway", services => services.AddHttpClient("orders", c => c.BaseAddress = new Uri("http://orders")).AddMesh(),
            app => app.MapGet("/order", async (HttpContext context, IHttpClientFactory clients) =>
            {
                var failure = await CallAsync(clients.CreateClient("orders"), context.RequestAborted, "/order");
                return failure is null ? Results.Text("ok") : Results.Text(failure, statusCode: StatusCodes.Status503ServiceUnavailable);
            }));

    /// <summary>One call through the mesh: null when it succeeded, else what went wrong (a status or an exception's type).</summary>
    private static async Task<string?> CallAsync(HttpClient client, CancellationToken cancellationToken, string path = "/work")
    {
        try
        {
            using var response = await client.GetAsync(path, HttpCompletionOption.ResponseContentRead, cancellationToken);
            return response.IsSuccessStatusCode ? null : $"{client.BaseAddress!.Host}: {(int)response.StatusCode}";
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return $"{client.BaseAddress!.Host}: {ex.GetType().Name} {(ex.Message.Length > 120 ? ex.Message[..120] : ex.Message)}";
        }
    }

    private async Task<Uri> StartAppAsync(string service, Action<IServiceCollection> services, Action<WebApplication> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:ServiceName"] = service,
            ["Mesh:ControlPlane:Address"] = MeshdAddress.ToString(),
            ["Mesh:ControlPlane:Token"] = TestMeshd.WorkloadToken,
            ["Mesh:ControlPlane:CacheDirectory"] = Path.Combine(Directory, service),
            ["Mesh:Server:DrainTime"] = "00:00:00",
        });
        builder.Services.AddMeshServer();
        services(builder.Services);
        var app = builder.Build();
        app.UseMeshDeadlines();
        map(app);
        await app.StartAsync();
        _apps.Add(app);
        return new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());
    }
}
