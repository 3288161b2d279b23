using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Mesh.Demo.Microservices;

/// <summary>
/// meshd and the four sample services as child processes on loopback: gateway, orders, payments, and inventory in three
/// instances (v1a, v1b, v2). Also the operator's side: meshd's admin API and payments' fault injection.
/// </summary>
internal sealed class SampleMesh : IDisposable
{
    public const string AdminToken = "demo-admin-token";
    public const string WorkloadToken = "demo-workload-token";

    private static readonly TimeSpan s_startupTimeout = TimeSpan.FromSeconds(60);
    private readonly ChildProcesses _children = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2) }) { Timeout = TimeSpan.FromSeconds(5) };
    private readonly Dictionary<string, ChildProcesses.Child> _byName = new(StringComparer.Ordinal);

    public SampleMesh()
    {
        Meshd = Loopback(ChildProcesses.FreePort());
        Gateway = Loopback(ChildProcesses.FreePort());
        Orders = Loopback(ChildProcesses.FreePort());
        Payments = Loopback(ChildProcesses.FreePort());
        Inventory = new Dictionary<string, Uri>(StringComparer.Ordinal)
        {
            ["v1a"] = Loopback(ChildProcesses.FreePort()),
            ["v1b"] = Loopback(ChildProcesses.FreePort()),
            ["v2"] = Loopback(ChildProcesses.FreePort()),
        };
    }

    public Uri Meshd { get; }

    public Uri Gateway { get; }

    public Uri Orders { get; }

    public Uri Payments { get; }

    /// <summary>Gets the inventory instances by short name.</summary>
    public IReadOnlyDictionary<string, Uri> Inventory { get; }

    /// <summary>Gets the temporary directory of this run.</summary>
    public string Directory => _children.Directory;

    /// <summary>Gets the id of every child process started.</summary>
    public IReadOnlyList<int> ChildIds => _children.Started;

    /// <summary>Gets a short name for an endpoint address (<c>v1b</c> for an inventory instance, else the port).</summary>
    public string NameOf(string address)
    {
        foreach (var (name, uri) in Inventory)
        {
            if (string.Equals(uri.GetLeftPart(UriPartial.Authority), address, StringComparison.OrdinalIgnoreCase))
            {
                return name;
            }
        }

        return Uri.TryCreate(address, UriKind.Absolute, out var parsed) ? ":" + parsed.Port.ToString(CultureInfo.InvariantCulture) : address;
    }

    /// <summary>Starts meshd, then every service, and waits until each answers /healthz and meshd lists all six instances.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Start("meshd", "Mesh.ControlPlane", Meshd,
        [
            $"--Meshd:Urls={Meshd}",
            $"--Meshd:DataDirectory={Path.Combine(Directory, "meshd")}",
            $"--Meshd:AdminToken={AdminToken}",
            $"--Meshd:WorkloadToken={WorkloadToken}",
            "--Meshd:LeaseTtl=00:00:05",
        ]);
        await WaitHealthyAsync("meshd", Meshd, http2: false, cancellationToken);

        Start("payments", "Mesh.Samples.Payments", Payments, []);
        foreach (var (name, address) in Inventory)
        {
            Start("inventory-" + name, "Mesh.Samples.Inventory", address, [$"--Inventory:Version={(name.StartsWith("v2", StringComparison.Ordinal) ? "v2" : "v1")}"]);
        }

        Start("orders", "Mesh.Samples.Orders", Orders, []);
        Start("gateway", "Mesh.Samples.Gateway", Gateway, []);

        await Task.WhenAll(
            WaitHealthyAsync("payments", Payments, http2: false, cancellationToken),
            WaitHealthyAsync("orders", Orders, http2: false, cancellationToken),
            WaitHealthyAsync("gateway", Gateway, http2: false, cancellationToken),
            Task.WhenAll(Inventory.Select(i => WaitHealthyAsync("inventory-" + i.Key, i.Value, http2: true, cancellationToken))));
        await WaitRegisteredAsync(cancellationToken);
    }

    /// <summary>Kills one inventory instance at once, as a crash would: no deregistration, no drain.</summary>
    public void KillInventory(string name) => ChildProcesses.Kill(_byName["inventory-" + name]);

    /// <summary>Replaces a service's policy through meshd's admin API.</summary>
    public Task PutPolicyAsync(string service, string json, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Put, new Uri(Meshd, $"/v1/policies/{service}"), json, "application/json", cancellationToken);

    /// <summary>Changes a few fields of a service's policy through meshd's admin API (JSON merge patch).</summary>
    public Task PatchPolicyAsync(string service, string json, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Patch, new Uri(Meshd, $"/v1/policies/{service}"), json, "application/merge-patch+json", cancellationToken);

    /// <summary>Tells payments, through its own loopback admin endpoint, to fail this share of charges.</summary>
    public Task SetPaymentsFailureRateAsync(double rate, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, new Uri(Payments, "/admin/chaos"), JsonSerializer.Serialize(new { failureRate = rate }), "application/json", cancellationToken);

    /// <summary>Reads a service's <c>/mesh/stats</c>.</summary>
    public async Task<JsonElement?> StatsAsync(Uri service, CancellationToken cancellationToken)
    {
        try
        {
            using var document = JsonDocument.Parse(await _http.GetStringAsync(new Uri(service, "/mesh/stats"), cancellationToken));
            return document.RootElement.Clone();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    public void Dispose()
    {
        _children.Dispose();
        _http.Dispose();
    }

    private static Uri Loopback(int port) => new($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");

    private void Start(string name, string assembly, Uri address, string[] args)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Mesh__ControlPlane__Address"] = Meshd.ToString(),
            ["Mesh__ControlPlane__Token"] = WorkloadToken,
            ["Mesh__ControlPlane__CacheDirectory"] = Path.Combine(Directory, "cache", name),
            ["Mesh__Server__DrainTime"] = "00:00:01",
            ["Logging__LogLevel__Default"] = "Warning",
            ["DOTNET_gcServer"] = "0",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        };
        _byName[name] = _children.Start(name, ChildProcesses.ProgramPath(assembly), [$"--urls={address}", .. args], environment);
    }

    private async Task WaitHealthyAsync(string name, Uri address, bool http2, CancellationToken cancellationToken)
    {
        var child = _byName[name];
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(s_startupTimeout);
        while (true)
        {
            if (child.HasExited)
            {
                throw new InvalidOperationException($"{name} exited at start-up:{Environment.NewLine}{child.Tail}");
            }

            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(address, "/healthz"));
                if (http2)
                {
                    // inventory speaks HTTP/2 only (gRPC without TLS)
                    request.Version = HttpVersion.Version20;
                    request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
                }

                using var response = await _http.SendAsync(request, deadline.Token);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                if (deadline.IsCancellationRequested)
                {
                    throw new TimeoutException($"{name} did not answer /healthz within {s_startupTimeout.TotalSeconds} s:{Environment.NewLine}{child.Tail}");
                }
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private async Task WaitRegisteredAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(s_startupTimeout);
        var expected = new Dictionary<string, int>(StringComparer.Ordinal) { ["gateway"] = 1, ["orders"] = 1, ["payments"] = 1, ["inventory"] = 3 };
        var seen = string.Empty;
        while (!deadline.IsCancellationRequested)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Meshd, "/v1/snapshot"));
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
                using var response = await _http.SendAsync(request, deadline.Token);
                using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(deadline.Token));
                var services = document.RootElement.GetProperty("services");
                var counts = expected.Keys.ToDictionary(k => k, k => services.TryGetProperty(k, out var s) ? s.GetProperty("instances").GetArrayLength() : 0, StringComparer.Ordinal);
                seen = string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}"));
                if (expected.All(e => counts[e.Key] == e.Value))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // meshd restarting? try again
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                break;
            }

            await Task.Delay(100, cancellationToken);
        }

        cancellationToken.ThrowIfCancellationRequested();
        throw new TimeoutException($"meshd did not list every instance within {s_startupTimeout.TotalSeconds} s (saw {seen}).");
    }

    private async Task SendAsync(HttpMethod method, Uri uri, string json, string contentType, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, uri) { Content = new StringContent(json, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        if (uri.Authority == Meshd.Authority)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        }

        using var response = await _http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{method} {uri.AbsolutePath}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
    }
}
