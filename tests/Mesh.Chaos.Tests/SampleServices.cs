using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Mesh.Chaos.Tests;

/// <summary>
/// The sample services themselves (<c>samples/Mesh.Samples.*</c>) in child processes, as the demo runs them: meshd in a
/// child process with its certificate authority and per-service credentials only, gateway → orders → inventory (gRPC)
/// and payments (HTTP), two instances each of inventory and payments, every service with its own credential, its
/// X.509-SVID from meshd and Strict mutual TLS. The traffic is a workload of the mesh too (<see cref="TrafficService"/>):
/// it calls the gateway over mutual TLS with its own SVID.
/// </summary>
internal sealed class SampleServices : IAsyncDisposable
{
    /// <summary>The service the traffic's credential and certificate are of.</summary>
    public const string TrafficService = "traffic";

    private static readonly string[] s_services = ["gateway", "orders", "inventory", "payments", TrafficService];
    private readonly TempDirectory _directory = new("chaos-samples-");
    private readonly Dictionary<string, string> _credentials = new(StringComparer.Ordinal);
    private readonly List<SampleProcess> _processes = [];
    private readonly List<int> _pids = [];
    private WorkloadIdentity? _identity;
    private int _order;

    private SampleServices(MeshdProcess meshd)
    {
        Meshd = meshd;
        Admin = TestMeshd.Client(meshd.Address, TestMeshd.AdminToken);
        _pids.Add(meshd.Pid);
    }

    /// <summary>Gets meshd's child process.</summary>
    public MeshdProcess Meshd { get; }

    /// <summary>Gets a client of meshd's API with the admin token.</summary>
    public HttpClient Admin { get; }

    /// <summary>Gets the traffic's identity.</summary>
    public WorkloadIdentity Identity => _identity ?? throw new InvalidOperationException("not started");

    /// <summary>Gets the gateway.</summary>
    public SampleProcess Gateway { get; private set; } = null!;

    /// <summary>Gets the inventory instances.</summary>
    public List<SampleProcess> Inventory { get; } = [];

    /// <summary>Gets the payments instances.</summary>
    public List<SampleProcess> Payments { get; } = [];

    /// <summary>Gets the pid of every process started (meshd's again after each start), to check none survives.</summary>
    public IReadOnlyList<int> Pids
    {
        get
        {
            lock (_pids)
            {
                return [.. _pids];
            }
        }
    }

    /// <summary>
    /// Starts meshd, makes a credential per service, puts <paramref name="policies"/> (service → JSON), starts every
    /// service and waits until each answers <c>/healthz</c> over mutual TLS, meshd lists each instance at <c>https://</c>
    /// with its identity, and an order goes through.
    /// </summary>
    public static async Task<SampleServices> StartAsync(IReadOnlyDictionary<string, string> policies)
    {
        var mesh = new SampleServices(await MeshdProcess.StartAsync("--Meshd:Identity:Enabled=true", "--Meshd:RequireServiceCredentials=true"));
        try
        {
            foreach (var service in s_services)
            {
                mesh._credentials[service] = await mesh.CreateCredentialAsync(service);
            }

            mesh._identity = await WorkloadIdentity.CreateAsync(mesh.Meshd.Address, TrafficService, mesh._credentials[TrafficService]);
            foreach (var (service, json) in policies)
            {
                await mesh.PolicyAsync(service, json);
            }

            var started = await Task.WhenAll(
                mesh.StartServiceAsync("inventory-1", "inventory", "Mesh.Samples.Inventory", "--Inventory:Version=v1"),
                mesh.StartServiceAsync("inventory-2", "inventory", "Mesh.Samples.Inventory", "--Inventory:Version=v1"),
                mesh.StartServiceAsync("payments-1", "payments", "Mesh.Samples.Payments"),
                mesh.StartServiceAsync("payments-2", "payments", "Mesh.Samples.Payments"),
                mesh.StartServiceAsync("orders", "orders", "Mesh.Samples.Orders"),
                mesh.StartServiceAsync("gateway", "gateway", "Mesh.Samples.Gateway"));
            mesh.Inventory.AddRange(started[0..2]);
            mesh.Payments.AddRange(started[2..4]);
            mesh.Gateway = started[5];
            foreach (var (service, count) in new[] { ("inventory", 2), ("payments", 2), ("orders", 1), ("gateway", 1) })
            {
                await mesh.WaitInstancesAsync(service, count);
            }

            using var client = new HttpClient(mesh.Identity.HandlerFor("gateway")) { Timeout = TimeSpan.FromSeconds(5) };
            await Eventually.WaitAsync(async () =>
            {
                try
                {
                    using var response = await client.SendAsync(mesh.Order());
                    return response.StatusCode == HttpStatusCode.OK;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    return false;
                }
            }, "an order charged through gateway, orders, inventory and payments", TimeSpan.FromSeconds(30));
            return mesh;
        }
        catch
        {
            await mesh.DisposeAsync();
            throw;
        }
    }

    /// <summary>A new order for the gateway: <c>POST /orders</c>, one item of one of a hundred SKUs.</summary>
    public HttpRequestMessage Order()
    {
        var n = Interlocked.Increment(ref _order);
        return new HttpRequestMessage(HttpMethod.Post, new Uri(Gateway.Address, "/orders"))
        {
            Content = new StringContent($$"""{"sku":"sku-{{(n % 100).ToString(CultureInfo.InvariantCulture)}}","quantity":1}""", Encoding.UTF8, "application/json"),
        };
    }

    /// <summary>Kills meshd's process at once (SIGKILL); <see cref="StartMeshdAgainAsync"/> brings it back on its port and data.</summary>
    public void KillMeshd() => Meshd.Kill();

    /// <summary>Starts meshd again on the same port and data (its CA, credentials and registrations).</summary>
    public async Task StartMeshdAgainAsync()
    {
        await Meshd.StartAgainAsync();
        lock (_pids)
        {
            _pids.Add(Meshd.Pid);
        }
    }

    /// <summary>Waits until meshd lists <paramref name="count"/> instances of <paramref name="service"/>, each at <c>https://</c> with its identity.</summary>
    public Task WaitInstancesAsync(string service, int count) =>
        Eventually.WaitAsync(async () => await InstancesAsync(service) == count, $"{count} instance(s) of {service} at https:// with its identity in meshd", TimeSpan.FromSeconds(30));

    /// <summary>Gets how many instances of <paramref name="service"/> meshd lists at <c>https://</c> with its identity (-1 while meshd is away).</summary>
    public async Task<int> InstancesAsync(string service)
    {
        try
        {
            using var response = await Admin.GetAsync(new Uri("/v1/snapshot", UriKind.Relative));
            response.EnsureSuccessStatusCode();
            var snapshot = await response.Content.ReadFromJsonAsync<JsonObject>();
            var instances = snapshot?["services"]?[service]?["instances"]?.AsArray() ?? [];
            return instances.Count(i =>
                i?["address"]?.GetValue<string>().StartsWith("https://", StringComparison.Ordinal) == true
                && i["identity"]?.GetValue<string>() == Identity.IdOf(service));
        }
        catch (HttpRequestException)
        {
            return -1;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        // Each killed (SIGKILL) by its pid: nothing of the run survives it.
        lock (_processes)
        {
            foreach (var process in _processes)
            {
                process.Dispose();
            }
        }

        Meshd.Dispose();
        Admin.Dispose();
        _identity?.Dispose();
        _credentials.Clear();
        _directory.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<string> CreateCredentialAsync(string service)
    {
        using var response = await Admin.PostAsync(new Uri("/v1/credentials", UriKind.Relative), TestMeshd.Json($$"""{ "service": "{{service}}" }"""));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1/credentials for {service}: {(int)response.StatusCode} {body}");
        }

        return JsonNode.Parse(body)?["token"]?.GetValue<string>() ?? throw new InvalidOperationException($"POST /v1/credentials for {service}: no token");
    }

    private async Task PolicyAsync(string service, string json)
    {
        using var response = await Admin.PutAsync(new Uri($"/v1/policies/{service}", UriKind.Relative), TestMeshd.Json(json));
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Starts one instance on a free port and waits until it answers <c>/healthz</c> over mutual TLS (inventory: HTTP/2, gRPC's).</summary>
    private Task<SampleProcess> StartServiceAsync(string name, string service, string assemblyName, params string[] args) =>
        LoopbackPorts.StartAsync(1, async ports =>
        {
            var address = new Uri($"https://127.0.0.1:{ports[0].ToString(CultureInfo.InvariantCulture)}");
            var process = SampleProcess.Start(name, assemblyName, address, args, new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["Mesh__ControlPlane__Address"] = Meshd.Address.ToString(),
                ["Mesh__ControlPlane__Token"] = _credentials[service],
                ["Mesh__ControlPlane__CacheDirectory"] = Path.Combine(_directory.Path, name),
                ["Mesh__Identity__Source"] = "meshd",
                [$"Mesh__Services__{service}__Mtls__Mode"] = "Strict",
                ["Mesh__Server__DrainTime"] = "00:00:00",
            });
            lock (_pids)
            {
                _pids.Add(process.Pid);
            }

            try
            {
                using var client = new HttpClient(Identity.HandlerFor(service)) { Timeout = TimeSpan.FromSeconds(5) };
                await Eventually.WaitAsync(async () =>
                {
                    if (process.HasExited)
                    {
                        throw new InvalidOperationException(process.ExitReport());
                    }

                    try
                    {
                        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(address, "/healthz"));
                        if (service == "inventory")
                        {
                            request.Version = HttpVersion.Version20;
                            request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
                        }

                        using var response = await client.SendAsync(request);
                        return response.IsSuccessStatusCode;
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                        return false;
                    }
                }, $"{name} answers /healthz over mutual TLS", TimeSpan.FromSeconds(60));
            }
            catch
            {
                process.Dispose();
                throw;
            }

            lock (_processes)
            {
                _processes.Add(process);
            }

            return process;
        });
}
