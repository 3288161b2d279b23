using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Mesh.Demo.Microservices;

/// <summary>
/// meshd and the four sample services as child processes on loopback: gateway, orders, payments, and inventory in three
/// instances (v1a, v1b, v2), on mutual TLS: meshd runs its CA, each service gets its own credential (and with it its
/// certificate) and serves Strict. Also the operator's side: meshd's admin API and payments' fault injection, called
/// with the demo's own identity.
/// </summary>
internal sealed class SampleMesh : IDisposable
{
    public const string AdminToken = "demo-admin-token";

    /// <summary>
    /// meshd's read-only token (<c>Meshd:ReaderToken</c>): it reads services, policies and the fleet view and writes
    /// nothing, so the demo prints it, in the dashboard's address, where the admin token never appears.
    /// </summary>
    public const string ReaderToken = "demo-reader-token";

    /// <summary>The services that get a credential: the four samples and the demo itself.</summary>
    public static readonly string[] Services = ["gateway", "orders", "payments", "inventory", DemoIdentity.Service];

    private static readonly TimeSpan s_startupTimeout = TimeSpan.FromSeconds(60);
    private readonly ChildProcesses _children = new();
    private readonly HttpClient _meshd;
    private readonly Dictionary<string, ChildProcesses.Child> _byName = new(StringComparer.Ordinal);

    // Kept in memory only: each credential goes to its service's process environment, never to a file or the output.
    private readonly Dictionary<string, string> _credentials = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HttpClient> _clients = new(StringComparer.Ordinal);
    private DemoIdentity? _identity;

    public SampleMesh()
    {
        Meshd = new Uri($"http://127.0.0.1:{ChildProcesses.FreePort().ToString(CultureInfo.InvariantCulture)}");
        _meshd = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2) }) { BaseAddress = Meshd, Timeout = TimeSpan.FromSeconds(5) };
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

    /// <summary>Gets the dashboard meshd serves, with the read-only token in the fragment (never sent to the server).</summary>
    public Uri Dashboard => new(Meshd, "/#token=" + ReaderToken);

    /// <summary>Gets the gateway's address: <c>https</c>, as every sample service takes mutual TLS only.</summary>
    public Uri Gateway { get; }

    public Uri Orders { get; }

    public Uri Payments { get; }

    /// <summary>Gets the inventory instances by short name.</summary>
    public IReadOnlyDictionary<string, Uri> Inventory { get; }

    /// <summary>Gets the temporary directory of this run.</summary>
    public string Directory => _children.Directory;

    /// <summary>Gets the id of every child process started.</summary>
    public IReadOnlyList<int> ChildIds => _children.Started;

    /// <summary>Gets the demo's own identity (once started).</summary>
    public DemoIdentity Identity => _identity ?? throw new InvalidOperationException("The mesh is not started.");

    /// <summary>Gets a short name for an endpoint address (<c>v1b</c> for an inventory instance, else the port).</summary>
    public string NameOf(string address)
    {
        if (!Uri.TryCreate(address, UriKind.Absolute, out var parsed))
        {
            return address;
        }

        foreach (var (name, uri) in Inventory)
        {
            if (uri.Port == parsed.Port)
            {
                return name;
            }
        }

        return ":" + parsed.Port.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Starts meshd with its CA, makes a credential per service, then starts every service with its own, and waits until
    /// each answers /healthz over mutual TLS and meshd lists all six instances with their identities.
    /// <paramref name="beforeServices"/> runs once meshd answers, before any service starts: policies put then are in
    /// every snapshot a service ever reads.
    /// </summary>
    public async Task StartAsync(Func<CancellationToken, Task> beforeServices, CancellationToken cancellationToken)
    {
        Start("meshd", "Mesh.ControlPlane", Meshd,
        [
            $"--Meshd:Urls={Meshd}",
            $"--Meshd:DataDirectory={Path.Combine(Directory, "meshd")}",
            $"--Meshd:AdminToken={AdminToken}",
            $"--Meshd:ReaderToken={ReaderToken}",
            "--Meshd:Identity:Enabled=true",
            "--Meshd:RequireServiceCredentials=true",
            "--Meshd:LeaseTtl=00:00:05",
        ], new Dictionary<string, string>(StringComparer.Ordinal));
        await WaitHealthyAsync("meshd", _meshd, Meshd, http2: false, cancellationToken);

        foreach (var service in Services)
        {
            _credentials[service] = await CreateCredentialAsync(service, cancellationToken);
        }

        _identity = await DemoIdentity.CreateAsync(_meshd, _credentials[DemoIdentity.Service], cancellationToken);
        foreach (var service in Services.Where(s => s != DemoIdentity.Service))
        {
            _clients[service] = new HttpClient(_identity.HandlerFor(service)) { Timeout = TimeSpan.FromSeconds(5) };
        }

        await beforeServices(cancellationToken);
        StartService("payments", "payments", "Mesh.Samples.Payments", Payments, []);
        foreach (var (name, address) in Inventory)
        {
            StartService("inventory-" + name, "inventory", "Mesh.Samples.Inventory", address, [$"--Inventory:Version={(name.StartsWith("v2", StringComparison.Ordinal) ? "v2" : "v1")}"]);
        }

        StartService("orders", "orders", "Mesh.Samples.Orders", Orders, []);
        StartService("gateway", "gateway", "Mesh.Samples.Gateway", Gateway, []);

        await Task.WhenAll(
            WaitHealthyAsync("payments", _clients["payments"], Payments, http2: false, cancellationToken),
            WaitHealthyAsync("orders", _clients["orders"], Orders, http2: false, cancellationToken),
            WaitHealthyAsync("gateway", _clients["gateway"], Gateway, http2: false, cancellationToken),
            Task.WhenAll(Inventory.Select(i => WaitHealthyAsync("inventory-" + i.Key, _clients["inventory"], i.Value, http2: true, cancellationToken))));
        await WaitRegisteredAsync(cancellationToken);
    }

    /// <summary>A handler for the demo's calls to a service: mutual TLS with the demo's identity.</summary>
    public SocketsHttpHandler HandlerFor(string service) => Identity.HandlerFor(service);

    /// <summary>
    /// Calls a strict service as a client outside the mesh would: a plain <see cref="HttpClient"/> to its address in
    /// plaintext, or, with <paramref name="tls"/>, over TLS without a client certificate. Returns what happened.
    /// </summary>
    public async Task<string> CallWithoutIdentityAsync(string service, Uri address, string path, bool tls, CancellationToken cancellationToken)
    {
        using var handler = tls ? Identity.HandlerWithoutCertificate(service) : new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2) };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        var uri = new UriBuilder(new Uri(address, path)) { Scheme = tls ? "https" : "http" }.Uri;
        try
        {
            using var response = await client.PostAsync(uri, JsonContent.Create(new { orderId = "ord_plaintext", amount = 1m }), cancellationToken);
            return $"answered {(int)response.StatusCode} (not refused)";
        }
        catch (HttpRequestException ex)
        {
            return $"refused ({Describe(ex)})";
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return "no answer within 5 s";
        }
    }

    /// <summary>Gets the instances meshd lists: service, address and the identity each must present.</summary>
    public async Task<IReadOnlyList<(string Service, string Address, string? Identity)>> InstancesAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/snapshot");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        using var response = await _meshd.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        var instances = new List<(string, string, string?)>();
        foreach (var service in document.RootElement.GetProperty("services").EnumerateObject())
        {
            foreach (var instance in service.Value.GetProperty("instances").EnumerateArray())
            {
                instances.Add((service.Name, instance.GetProperty("address").GetString()!, instance.TryGetProperty("identity", out var id) ? id.GetString() : null));
            }
        }

        return instances;
    }

    /// <summary>Kills one inventory instance at once, as a crash would: no deregistration, no drain.</summary>
    public void KillInventory(string name) => ChildProcesses.Kill(_byName["inventory-" + name]);

    /// <summary>Replaces a service's policy through meshd's admin API.</summary>
    public Task PutPolicyAsync(string service, string json, CancellationToken cancellationToken) =>
        SendAsync(_meshd, HttpMethod.Put, new Uri(Meshd, $"/v1/policies/{service}"), json, "application/json", cancellationToken);

    /// <summary>Changes a few fields of a service's policy through meshd's admin API (JSON merge patch).</summary>
    public Task PatchPolicyAsync(string service, string json, CancellationToken cancellationToken) =>
        SendAsync(_meshd, HttpMethod.Patch, new Uri(Meshd, $"/v1/policies/{service}"), json, "application/merge-patch+json", cancellationToken);

    /// <summary>Gets the version meshd keeps of a service's policy (<c>GET /v1/policies/{service}</c>).</summary>
    public async Task<long> PolicyVersionAsync(string service, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/policies/{service}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        using var response = await _meshd.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET /v1/policies/{service}: {(int)response.StatusCode} {body}");
        }

        using var document = JsonDocument.Parse(body);
        return document.RootElement.GetProperty("version").GetInt64();
    }

    /// <summary>
    /// Changes a few fields of a service's policy through meshd's admin API (JSON merge patch) if it is still at
    /// <paramref name="version"/> (<c>If-Match</c>: meshd refuses the write with 412 when someone changed it meanwhile);
    /// returns the new version.
    /// </summary>
    public async Task<long> PatchPolicyAsync(string service, string json, long version, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Patch, $"/v1/policies/{service}") { Content = new StringContent(json, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/merge-patch+json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        request.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{version.ToString(CultureInfo.InvariantCulture)}\""));
        using var response = await _meshd.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"PATCH /v1/policies/{service} (If-Match \"{version}\"): {(int)response.StatusCode} {body}");
        }

        using var document = JsonDocument.Parse(body);
        return document.RootElement.GetProperty("version").GetInt64();
    }

    /// <summary>Tells payments, through its own loopback admin endpoint (over mutual TLS, as it is strict), to fail this share of charges.</summary>
    public Task SetPaymentsFailureRateAsync(double rate, CancellationToken cancellationToken) =>
        SendAsync(_clients["payments"], HttpMethod.Post, new Uri(Payments, "/admin/chaos"), JsonSerializer.Serialize(new { failureRate = rate }), "application/json", cancellationToken);

    /// <summary>Calls a service as the demo's workload (mutual TLS with its identity), with a JSON body unless empty; returns the status and the body.</summary>
    public async Task<(int Status, string Body)> CallAsDemoAsync(string service, Uri address, HttpMethod method, string path, string json, IReadOnlyDictionary<string, string> headers, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(address, path)) { Content = json.Length == 0 ? null : new StringContent(json, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        using var response = await _clients[service].SendAsync(request, cancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    /// <summary>Asks meshd (<c>POST /v1/authorization/check</c>) whether a caller would be let in, and by which rule.</summary>
    public async Task<(bool Allowed, string Decision, string Rule)> CheckAuthorizationAsync(string service, string caller, string method, string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/authorization/check") { Content = JsonContent.Create(new { service, caller, method, path }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        using var response = await _meshd.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1/authorization/check: {(int)response.StatusCode} {body}");
        }

        using var document = JsonDocument.Parse(body);
        var answer = document.RootElement;
        return (answer.GetProperty("allowed").GetBoolean(), answer.GetProperty("decision").GetString() ?? "?", answer.GetProperty("rule").GetString() ?? "?");
    }

    /// <summary>Gets a child process by name (<c>payments</c>, <c>inventory-v1a</c>...), to read what it writes.</summary>
    public ChildProcesses.Child ChildOf(string name) => _byName[name];

    /// <summary>Reads a service's <c>/mesh/stats</c>, over mutual TLS.</summary>
    public async Task<JsonElement?> StatsAsync(string service, Uri address, CancellationToken cancellationToken)
    {
        try
        {
            using var document = JsonDocument.Parse(await _clients[service].GetStringAsync(new Uri(address, "/mesh/stats"), cancellationToken));
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
        _meshd.Dispose();
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }

        _identity?.Dispose();
        _credentials.Clear();
    }

    private static Uri Loopback(int port) => new($"https://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");

    private static string Describe(HttpRequestException ex)
    {
        var inner = ex.InnerException;
        var reason = ex.HttpRequestError switch
        {
            HttpRequestError.ResponseEnded => "the server closed the connection without an answer",
            HttpRequestError.SecureConnectionError => "the TLS handshake failed",
            HttpRequestError.ConnectionError => "the connection was refused",
            _ => "no answer",
        };
        return $"{reason}: {ex.HttpRequestError}{(inner is null ? string.Empty : ", " + inner.GetType().Name)}";
    }

    private void StartService(string name, string service, string assembly, Uri address, string[] args) =>
        Start(name, assembly, address, [.. args], new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Mesh__ControlPlane__Address"] = Meshd.ToString(),
            ["Mesh__ControlPlane__Token"] = _credentials[service],
            ["Mesh__ControlPlane__CacheDirectory"] = Path.Combine(Directory, "cache", name),
            ["Mesh__Identity__Source"] = "meshd",
            [$"Mesh__Services__{service}__Mtls__Mode"] = "Strict",
            ["Mesh__Server__DrainTime"] = "00:00:01",
        });

    private void Start(string name, string assembly, Uri address, string[] args, Dictionary<string, string> environment)
    {
        environment["Logging__LogLevel__Default"] = "Warning";
        environment["DOTNET_gcServer"] = "0";
        environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        // Kestrel listens in plaintext; the mesh puts its mutual TLS on that port (meshd itself stays plain HTTP on loopback).
        var listen = new UriBuilder(address) { Scheme = "http" }.Uri.GetLeftPart(UriPartial.Authority);
        _byName[name] = _children.Start(name, ChildProcesses.ProgramPath(assembly), [$"--urls={listen}", .. args], environment);
    }

    private async Task<string> CreateCredentialAsync(string service, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/credentials") { Content = JsonContent.Create(new { service }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        using var response = await _meshd.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1/credentials for {service}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return document.RootElement.GetProperty("token").GetString() ?? throw new InvalidOperationException($"POST /v1/credentials for {service}: no token.");
    }

    private async Task WaitHealthyAsync(string name, HttpClient client, Uri address, bool http2, CancellationToken cancellationToken)
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
                    // inventory serves HTTP/2 only (gRPC), agreed in the TLS handshake (ALPN)
                    request.Version = HttpVersion.Version20;
                    request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
                }

                using var response = await client.SendAsync(request, deadline.Token);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet, or no certificate from meshd yet
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
                // Each instance listed at https:// with the identity callers must find in its certificate.
                var instances = await InstancesAsync(deadline.Token);
                var counts = expected.Keys.ToDictionary(
                    k => k,
                    k => instances.Count(i => i.Service == k && i.Identity == Identity.IdOf(k) && i.Address.StartsWith("https://", StringComparison.Ordinal)),
                    StringComparer.Ordinal);
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
        throw new TimeoutException($"meshd did not list every instance with its identity within {s_startupTimeout.TotalSeconds} s (saw {seen}).");
    }

    private async Task SendAsync(HttpClient client, HttpMethod method, Uri uri, string json, string contentType, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, uri) { Content = new StringContent(json, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        if (uri.Authority == Meshd.Authority)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        }

        using var response = await client.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{method} {uri.AbsolutePath}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
    }
}
