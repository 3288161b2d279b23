using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Meshd;
using Meshd.Registry;
using Meshd.Watch;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Testing;

/// <summary>
/// A real meshd in the test's process on 127.0.0.1 (port 0: the port Kestrel was given), with known tokens, and clients
/// of its API. It can be stopped and started again on the same port with the same data, as a restarted meshd would be.
/// </summary>
public sealed class TestMeshd : IAsyncDisposable
{
    /// <summary>The admin token of every test meshd.</summary>
    public const string AdminToken = "test-admin-token";

    /// <summary>The workload token of every test meshd.</summary>
    public const string WorkloadToken = "test-workload-token";

    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;
    private readonly TempDirectory? _directory;
    private MeshdHost? _host;

    private TestMeshd(MeshdHost host, Dictionary<string, string?> settings, Action<IServiceCollection>? services, TempDirectory? directory)
    {
        _host = host;
        _settings = settings;
        _services = services;
        _directory = directory;
        Address = host.Address;

        // Restarts keep the port, so clients configured with the address reach the new meshd.
        _settings["Meshd:Urls"] = Address.ToString();
        Admin = Client(Address, AdminToken);
        Workload = Client(Address, WorkloadToken);
    }

    /// <summary>Gets the address meshd listens on, the same across restarts.</summary>
    public Uri Address { get; }

    /// <summary>Gets the running meshd.</summary>
    /// <exception cref="InvalidOperationException">meshd is stopped.</exception>
    public MeshdHost Host => _host ?? throw new InvalidOperationException("meshd is stopped.");

    /// <summary>Gets whether meshd runs now.</summary>
    public bool IsRunning => _host is not null;

    /// <summary>Gets meshd's data directory.</summary>
    public string? DataDirectory => _settings.GetValueOrDefault("Meshd:DataDirectory");

    /// <summary>Gets a client with the admin token.</summary>
    public HttpClient Admin { get; }

    /// <summary>Gets a client with the workload token.</summary>
    public HttpClient Workload { get; }

    /// <summary>Gets the registry, to sweep lapsed leases at a moment the test chooses.</summary>
    internal RegistryService Registry => Host.Services.GetRequiredService<RegistryService>();

    /// <summary>Gets the snapshot state, whose <c>Waiting</c> says how many watchers are parked.</summary>
    internal MeshState State => Host.Services.GetRequiredService<MeshState>();

    /// <summary>Starts meshd with a data directory of its own and default settings (a 100 ms lease sweep).</summary>
    public static Task<TestMeshd> StartAsync() => StartAsync(("Meshd:SweepInterval", "00:00:00.100"));

    /// <summary>Starts meshd with a data directory of its own and a lease TTL of <paramref name="leaseTtl"/>.</summary>
    public static Task<TestMeshd> StartAsync(TimeSpan leaseTtl) =>
        StartAsync(("Meshd:LeaseTtl", leaseTtl.ToString("c", CultureInfo.InvariantCulture)), ("Meshd:SweepInterval", "00:00:00.100"));

    /// <summary>Starts meshd with its certificate authority on (trust domain <c>mesh.local</c>) and <paramref name="extra"/> settings.</summary>
    public static Task<TestMeshd> StartWithIdentityAsync(params (string Key, string Value)[] extra) =>
        StartAsync([("Meshd:Identity:Enabled", "true"), ("Meshd:SweepInterval", "00:00:00.100"), .. extra]);

    /// <summary>Starts meshd with a data directory of its own and <paramref name="extra"/> settings.</summary>
    public static async Task<TestMeshd> StartAsync(params (string Key, string Value)[] extra)
    {
        var directory = new TempDirectory("meshd-");
        try
        {
            return await StartAsync(Settings(directory.Path, extra), null, directory).ConfigureAwait(false);
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    /// <summary>Starts meshd with exactly <paramref name="settings"/>; the caller owns its data directory.</summary>
    public static Task<TestMeshd> StartAsync(Dictionary<string, string?> settings, Action<IServiceCollection>? services = null) =>
        StartAsync(new Dictionary<string, string?>(settings), services, null);

    /// <summary>The settings of a test meshd on <paramref name="dataDirectory"/>, plus <paramref name="extra"/>.</summary>
    public static Dictionary<string, string?> Settings(string dataDirectory, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Meshd:Urls"] = "http://127.0.0.1:0",
            ["Meshd:DataDirectory"] = dataDirectory,
            ["Meshd:AdminToken"] = AdminToken,
            ["Meshd:WorkloadToken"] = WorkloadToken,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>Registers <paramref name="time"/> as meshd's clock.</summary>
    public static Action<IServiceCollection> Clock(TimeProvider time) => services => services.AddSingleton(time);

    /// <summary>A client of meshd's API at <paramref name="address"/> with a bearer token (none when null).</summary>
    public static HttpClient Client(Uri address, string? token)
    {
        var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(90) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>
    /// A client of meshd's API at <paramref name="address"/> whose connections come from the loopback address
    /// <paramref name="from"/> (such as 127.0.0.2), trusting <paramref name="trust"/> as meshd's TLS certificate when given.
    /// </summary>
    public static HttpClient ClientFrom(Uri address, string? token, IPAddress from, X509Certificate2? trust = null)
    {
        var handler = LoopbackClients.Handler(from, trust);
        var client = new HttpClient(handler) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(90) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>A JSON body of the given media type.</summary>
    public static StringContent Json(string json, string mediaType = "application/json") => new(json, Encoding.UTF8, mediaType);

    /// <summary>Stops meshd; its port then refuses connections until <see cref="StartAgainAsync"/>.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _host, null) is { } host)
        {
            await host.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Starts meshd again after <see cref="StopAsync"/>, on the same port with the same data and settings.</summary>
    public async Task StartAgainAsync()
    {
        if (_host is not null)
        {
            throw new InvalidOperationException("meshd is running.");
        }

        _host = await MeshdHost.StartAsync([], _settings, _services, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Waits until <paramref name="count"/> watchers are parked on a long poll (within <paramref name="timeout"/>, 10 s by default).</summary>
    public Task WatchersParkedAsync(int count = 1, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(() => State.Waiting == count, $"{count} watcher(s) parked", timeout);

    /// <summary>Registers an instance with the workload token (zone <c>a</c>, label <c>version=v1</c>); the answer as it came.</summary>
    public Task<HttpResponseMessage> RegisterAsync(string service, string instanceId, string address) =>
        Workload.PutAsync(new Uri($"/v1/services/{service}/instances/{instanceId}", UriKind.Relative), Json($$"""{ "address": "{{address}}", "zone": "a", "labels": { "version": "v1" } }"""));

    /// <summary>Registers an instance at the scheme, host and port of <paramref name="address"/> with label <c>version</c> = <paramref name="version"/>.</summary>
    public Task<HttpResponseMessage> RegisterAsync(string service, string instanceId, Uri address, string version) =>
        Workload.PutAsync(
            new Uri($"/v1/services/{service}/instances/{instanceId}", UriKind.Relative),
            Json($$"""{ "address": "{{address.GetLeftPart(UriPartial.Authority)}}", "zone": "a", "labels": { "version": "{{version}}" } }"""));

    /// <summary>Registers an instance at the scheme, host and port of <paramref name="address"/>.</summary>
    public Task<HttpResponseMessage> RegisterAsync(string service, string instanceId, Uri address) =>
        RegisterAsync(service, instanceId, address.GetLeftPart(UriPartial.Authority));

    /// <summary>Renews an instance's lease; <see langword="false"/> when meshd no longer knows it (404).</summary>
    public async Task<bool> RenewAsync(string service, string instanceId)
    {
        using var response = await Workload.PostAsync(new Uri($"/v1/services/{service}/instances/{instanceId}/renew", UriKind.Relative), null).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        response.EnsureSuccessStatusCode();
        return true;
    }

    /// <summary>Renews an instance's lease with <paramref name="reportJson"/> (an <c>InstanceReportDocument</c>) as its report; the answer as it came.</summary>
    public Task<HttpResponseMessage> ReportAsync(string service, string instanceId, string reportJson) =>
        Workload.PostAsync(new Uri($"/v1/services/{service}/instances/{instanceId}/renew", UriKind.Relative), Json(reportJson));

    /// <summary>Deregisters an instance; the answer as it came.</summary>
    public Task<HttpResponseMessage> DeregisterAsync(string service, string instanceId) =>
        Workload.DeleteAsync(new Uri($"/v1/services/{service}/instances/{instanceId}", UriKind.Relative));

    /// <summary>Replaces a service's policy with the admin token; the answer as it came.</summary>
    public Task<HttpResponseMessage> PutPolicyAsync(string service, string policyJson) =>
        Admin.PutAsync(new Uri($"/v1/policies/{service}", UriKind.Relative), Json(policyJson));

    /// <summary>Changes a few fields of a service's policy (JSON merge patch); the answer as it came.</summary>
    public Task<HttpResponseMessage> PatchPolicyAsync(string service, string patchJson) =>
        Admin.PatchAsync(new Uri($"/v1/policies/{service}", UriKind.Relative), Json(patchJson, "application/merge-patch+json"));

    /// <summary>Creates a credential bound to <paramref name="service"/> with the admin token: its id and its token (shown once).</summary>
    public async Task<(string Id, string Token)> CreateCredentialAsync(string service)
    {
        using var response = await Admin.PostAsync(new Uri("/v1/credentials", UriKind.Relative), Json($$"""{ "service": "{{service}}" }""")).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"POST /v1/credentials answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync().ConfigureAwait(false)}");
        }

        var created = (await response.Content.ReadFromJsonAsync<JsonObject>().ConfigureAwait(false))!;
        return ((string)created["id"]!, (string)created["token"]!);
    }

    /// <summary>Asks for an SVID of <paramref name="service"/> with <paramref name="client"/>'s token; the answer as it came.</summary>
    public static Task<HttpResponseMessage> RequestSvidAsync(HttpClient client, string service, string csrPem, string? ttl = null)
    {
        var body = new JsonObject { ["csr"] = csrPem };
        if (ttl is not null)
        {
            body["ttl"] = ttl;
        }

        return client.PostAsync(new Uri($"/v1/services/{service}/svid", UriKind.Relative), Json(body.ToJsonString()));
    }

    /// <summary>Gets the current snapshot.</summary>
    public async Task<JsonObject> SnapshotAsync()
    {
        using var response = await Workload.GetAsync(new Uri("/v1/snapshot", UriKind.Relative)).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>().ConfigureAwait(false))!;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        Admin.Dispose();
        Workload.Dispose();
        _directory?.Dispose();
    }

    private static async Task<TestMeshd> StartAsync(Dictionary<string, string?> settings, Action<IServiceCollection>? services, TempDirectory? directory)
    {
        var host = await MeshdHost.StartAsync([], settings, services, CancellationToken.None).ConfigureAwait(false);
        return new TestMeshd(host, settings, services, directory);
    }
}
