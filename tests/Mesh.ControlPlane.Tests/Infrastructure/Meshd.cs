using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane.Tests.Infrastructure;

/// <summary>Starts meshd in this process on 127.0.0.1, port 0, with known tokens, and calls its API.</summary>
internal sealed class Meshd : IAsyncDisposable
{
    public const string AdminToken = "test-admin-token";
    public const string WorkloadToken = "test-workload-token";

    private readonly TempDirectory? _directory;

    private Meshd(MeshdHost host, TempDirectory? directory)
    {
        Host = host;
        _directory = directory;
        Admin = Client(host.Address, AdminToken);
        Workload = Client(host.Address, WorkloadToken);
    }

    public MeshdHost Host { get; }

    public HttpClient Admin { get; }

    public HttpClient Workload { get; }

    /// <summary>Gets the registry, to sweep lapsed leases at a moment the test chooses.</summary>
    public Mesh.ControlPlane.Registry.RegistryService Registry => Host.Services.GetRequiredService<Mesh.ControlPlane.Registry.RegistryService>();

    /// <summary>Gets the snapshot state, whose <c>Waiting</c> says how many watchers are parked.</summary>
    public Mesh.ControlPlane.Watch.MeshState State => Host.Services.GetRequiredService<Mesh.ControlPlane.Watch.MeshState>();

    /// <summary>Registers <paramref name="time"/> as meshd's clock.</summary>
    public static Action<IServiceCollection> Clock(TimeProvider time) => services => services.AddSingleton(time);

    /// <summary>Waits until <paramref name="count"/> watchers are parked on a long poll.</summary>
    public Task WatchersParkedAsync(int count = 1) =>
        Eventually.WaitAsync(() => State.Waiting == count, $"{count} watcher(s) parked");

    public static Dictionary<string, string?> Settings(string dataDirectory, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Meshd:Urls"] = "http://127.0.0.1:0",
            ["Meshd:DataDirectory"] = dataDirectory,
            ["Meshd:AdminToken"] = AdminToken,
            ["Meshd:WorkloadToken"] = WorkloadToken,
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    public static async Task<Meshd> StartAsync(params (string Key, string Value)[] extra)
    {
        var directory = new TempDirectory();
        var host = await MeshdHost.StartAsync([], Settings(directory.Path, extra), null, CancellationToken.None);
        return new Meshd(host, directory);
    }

    public static async Task<Meshd> StartAsync(Dictionary<string, string?> settings, Action<IServiceCollection>? services = null)
    {
        var host = await MeshdHost.StartAsync([], settings, services, CancellationToken.None);
        return new Meshd(host, null);
    }

    public static HttpClient Client(Uri address, string? token)
    {
        var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(90) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    public static StringContent Json(string json, string mediaType = "application/json") => new(json, Encoding.UTF8, mediaType);

    public Task<HttpResponseMessage> RegisterAsync(string service, string id, string address) =>
        Workload.PutAsync($"/v1/services/{service}/instances/{id}", Json($$"""{ "address": "{{address}}", "zone": "a", "labels": { "version": "v1" } }"""));

    public Task<HttpResponseMessage> PutPolicyAsync(string service, string json) => Admin.PutAsync($"/v1/policies/{service}", Json(json));

    public async Task<JsonObject> SnapshotAsync()
    {
        var response = await Workload.GetAsync("/v1/snapshot");
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        Workload.Dispose();
        await Host.DisposeAsync();
        _directory?.Dispose();
    }
}
