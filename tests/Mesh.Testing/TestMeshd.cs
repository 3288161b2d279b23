using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Mesh.ControlPlane;

namespace Mesh.Testing;

/// <summary>
/// A real meshd in the test's process on a loopback port of its own, with a data directory of its own and a short lease
/// TTL. It can be stopped and started again on the same port with the same data, as a restarted meshd would be.
/// </summary>
public sealed class TestMeshd : IAsyncDisposable
{
    /// <summary>The admin token of every test meshd.</summary>
    public const string AdminToken = "test-admin-token";

    /// <summary>The workload token of every test meshd.</summary>
    public const string WorkloadToken = "test-workload-token";

    private readonly int _port;
    private readonly TimeSpan _leaseTtl;
    private readonly HttpClient _admin;
    private MeshdHost? _host;

    private TestMeshd(int port, string dataDirectory, TimeSpan leaseTtl)
    {
        _port = port;
        DataDirectory = dataDirectory;
        _leaseTtl = leaseTtl;
        Address = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        _admin = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(10) };
        _admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
    }

    /// <summary>Gets the address meshd listens on, the same across restarts.</summary>
    public Uri Address { get; }

    /// <summary>Gets meshd's data directory, deleted on dispose.</summary>
    public string DataDirectory { get; }

    /// <summary>Gets whether meshd runs now.</summary>
    public bool IsRunning => _host is not null;

    /// <summary>Starts meshd with a lease TTL of <paramref name="leaseTtl"/> (10 s when not given).</summary>
    public static async Task<TestMeshd> StartAsync(TimeSpan? leaseTtl = null)
    {
        var meshd = new TestMeshd(FreePort(), Directory.CreateTempSubdirectory("meshd-").FullName, leaseTtl ?? TimeSpan.FromSeconds(10));
        await meshd.StartAgainAsync().ConfigureAwait(false);
        return meshd;
    }

    /// <summary>Starts meshd again after <see cref="StopAsync"/>, on the same port with the same data.</summary>
    public async Task StartAgainAsync()
    {
        _host = await MeshdHost.StartAsync([], new Dictionary<string, string?>
        {
            ["Meshd:Urls"] = Address.ToString(),
            ["Meshd:DataDirectory"] = DataDirectory,
            ["Meshd:LeaseTtl"] = _leaseTtl.ToString("c", CultureInfo.InvariantCulture),
            ["Meshd:SweepInterval"] = "00:00:00.100",
            ["Meshd:AdminToken"] = AdminToken,
            ["Meshd:WorkloadToken"] = WorkloadToken,
            ["Logging:LogLevel:Default"] = "Warning",
        }).ConfigureAwait(false);
    }

    /// <summary>Stops meshd; its port then refuses connections until <see cref="StartAgainAsync"/>.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _host, null) is { } host)
        {
            await host.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Replaces a service's policy with the admin token; returns the answer after checking it is 200.</summary>
    public Task<HttpResponseMessage> PutPolicyAsync(string service, string policyJson) =>
        SendAsync(HttpMethod.Put, $"v1/policies/{service}", policyJson, "application/json");

    /// <summary>Changes a few fields of a service's policy (JSON merge patch).</summary>
    public Task<HttpResponseMessage> PatchPolicyAsync(string service, string patchJson) =>
        SendAsync(HttpMethod.Patch, $"v1/policies/{service}", patchJson, "application/merge-patch+json");

    /// <summary>Registers an instance, as a service's registrar would.</summary>
    public Task<HttpResponseMessage> RegisterAsync(string service, string instanceId, Uri address) =>
        SendAsync(HttpMethod.Put, $"v1/services/{service}/instances/{instanceId}", $$"""{ "address": "{{address.GetLeftPart(UriPartial.Authority)}}" }""", "application/json");

    /// <summary>Renews an instance's lease; <see langword="false"/> when meshd no longer knows it (404).</summary>
    public async Task<bool> RenewAsync(string service, string instanceId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"v1/services/{service}/instances/{instanceId}/renew", UriKind.Relative));
        using var response = await _admin.SendAsync(request).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        response.EnsureSuccessStatusCode();
        return true;
    }

    /// <summary>Deregisters an instance.</summary>
    public Task<HttpResponseMessage> DeregisterAsync(string service, string instanceId) =>
        SendAsync(HttpMethod.Delete, $"v1/services/{service}/instances/{instanceId}", null, null);

    /// <summary>Gets the current snapshot's JSON.</summary>
    public async Task<string> SnapshotAsync()
    {
        using var response = await _admin.GetAsync(new Uri("v1/snapshot", UriKind.Relative)).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _admin.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open is left to the temporary directory's cleanup.
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body, string? contentType)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, contentType!);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType!);
        }

        var response = await _admin.SendAsync(request).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var problem = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            response.Dispose();
            throw new HttpRequestException($"{method} {path}: {(int)response.StatusCode} {problem}", null, response.StatusCode);
        }

        return response;
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
