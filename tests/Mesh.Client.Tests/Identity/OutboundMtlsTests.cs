using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Mesh.Discovery;
using Mesh.Grpc.Inventory;
using Mesh.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Identity;

/// <summary>
/// A meshed client with a workload identity calls endpoints that present one over mutual TLS: its certificate chosen per
/// handshake, the endpoint's checked against the mesh's bundle and the identity its service must have, connections reused.
/// </summary>
public sealed class OutboundMtlsTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private const string Inventory = "spiffe://mesh.local/svc/inventory";
    private const string Orders = "spiffe://mesh.local/svc/orders";
    private readonly TestPki _root = TestPki.CreateRoot("Mesh Root", trustDomain: "mesh.local");
    private readonly TempDirectory _files = new("mesh-svid-");
    private MtlsServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await MtlsServer.StartAsync(Svid(_root, Inventory), Bundle(_root));
        WriteClientFiles(Svid(_root, Orders));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose()
    {
        _files.Dispose();
        _root.Dispose();
    }

    [Fact]
    public async Task A_call_to_an_endpoint_with_an_identity_goes_over_mutual_TLS_and_the_server_sees_the_callers_identity()
    {
        using var host = Client(Inventory);

        using var response = await host.Client.GetAsync("http://inventory/whoami");

        Assert.Equal(Orders, await response.Content.ReadAsStringAsync());
        Assert.Equal(1, _server.Connections);
    }

    [Fact]
    public async Task A_gRPC_call_goes_over_mutual_TLS_on_HTTP_2()
    {
        using var host = Client(Inventory, services => services.AddGrpcClient<Mesh.Grpc.Inventory.Inventory.InventoryClient>(o => o.Address = new Uri("http://inventory")).AddMesh());
        var grpc = host.Services.GetRequiredService<Mesh.Grpc.Inventory.Inventory.InventoryClient>();

        var item = await grpc.GetItemAsync(new ItemRequest { Sku = "ABC-1" });

        Assert.Equal("tls", item.Instance);
        Assert.Equal(1, _server.Connections);
    }

    [Fact]
    public async Task An_endpoint_presenting_another_identity_is_refused_naming_both_and_gets_no_request()
    {
        await using var payments = await MtlsServer.StartAsync(Svid(_root, "spiffe://mesh.local/svc/payments"), Bundle(_root));
        using var host = Client(Inventory, address: payments.Address);

        var error = await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://inventory/whoami"));

        Assert.Contains($"must present the identity '{Inventory}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("presented 'spiffe://mesh.local/svc/payments'", error.Message, StringComparison.Ordinal);
        var mismatch = Assert.IsType<MeshIdentityMismatchException>(Inner<MeshIdentityMismatchException>(error));
        Assert.Equal(Inventory, mismatch.Expected.ToString());
        Assert.Equal(0, payments.Requests);
    }

    [Fact]
    public async Task Calls_move_from_an_endpoint_with_the_wrong_identity_to_one_with_the_right_and_the_wrong_one_is_ejected()
    {
        await using var payments = await MtlsServer.StartAsync(Svid(_root, "spiffe://mesh.local/svc/payments"), Bundle(_root));
        using var host = Client(Inventory, address: payments.Address, more: new()
        {
            ["Mesh:Services:inventory:LoadBalancer"] = "RoundRobin",
            ["Mesh:Services:inventory:Endpoints:1:Address"] = _server.Address.ToString().Replace("https:", "http:", StringComparison.Ordinal),
            ["Mesh:Services:inventory:Endpoints:1:Identity"] = Inventory,
            ["Mesh:Services:inventory:OutlierDetection:ConsecutiveFailures"] = "3",
        });
        using var ejections = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.ejections");

        await Load.RunAsync(20, 1, _ => Load.GetOkAsync(host.Client, "http://inventory/whoami"));

        Assert.Equal(0, payments.Requests);
        Assert.Equal(20, _server.Requests);
        Assert.Single(ejections.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task An_endpoint_whose_certificate_the_mesh_did_not_sign_is_refused()
    {
        using var stranger = TestPki.CreateRoot("Mesh Root", trustDomain: "mesh.local");
        await using var impostor = await MtlsServer.StartAsync(Svid(stranger, Inventory), Bundle(_root));
        using var host = Client(Inventory, address: impostor.Address);

        var error = await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://inventory/whoami"));

        Assert.Contains("its certificate was refused", error.Message, StringComparison.Ordinal);
        Assert.Null(Inner<MeshIdentityMismatchException>(error)!.Presented);
        Assert.Equal(0, impostor.Requests);
    }

    [Fact]
    public async Task Without_a_valid_workload_certificate_the_call_fails_closed_and_says_why()
    {
        File.Delete(Path.Combine(_files.Path, "svid.pem"));
        using var host = Client(Inventory);

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => host.Client.GetAsync("http://inventory/whoami"));

        Assert.Equal(HttpRequestError.UserAuthenticationError, error.HttpRequestError);
        Assert.StartsWith("The request to service 'inventory' was not sent: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("The workload has no certificate yet", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _server.Requests);
    }

    [Fact]
    public async Task A_workload_without_its_certificate_is_not_the_endpoints_fault_none_is_tried_in_its_place_or_ejected()
    {
        await using var second = await MtlsServer.StartAsync(Svid(_root, Inventory), Bundle(_root));
        File.Delete(Path.Combine(_files.Path, "svid.pem"));
        using var host = Client(Inventory, address: _server.Address, configure: null, more: new()
        {
            ["Mesh:Services:inventory:Endpoints:1:Address"] = second.Address.ToString().Replace("https:", "http:", StringComparison.Ordinal),
            ["Mesh:Services:inventory:Endpoints:1:Identity"] = Inventory,
            ["Mesh:Services:inventory:OutlierDetection:ConsecutiveFailures"] = "2",
        });
        using var ejections = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.client.ejections");

        for (var i = 0; i < 10; i++)
        {
            var error = await Assert.ThrowsAnyAsync<HttpRequestException>(() => host.Client.GetAsync("http://inventory/whoami"));
            Assert.Contains("The workload has no certificate", error.Message, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("endpoints tried", error.Message, StringComparison.Ordinal);
        }

        Assert.Empty(ejections.GetMeasurementSnapshot());
        WriteClientFiles(Svid(_root, Orders));
        await Eventually.WaitAsync(
            async () =>
            {
                try
                {
                    using var response = await host.Client.GetAsync("http://inventory/whoami");
                    return response.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            "a call once the certificate is back");
        await Load.RunAsync(20, 1, _ => Load.GetOkAsync(host.Client, "http://inventory/whoami"));
        Assert.True(second.Requests > 0 && _server.Requests > 0, $"both endpoints serve again ({_server.Requests}, {second.Requests})");
        Assert.Empty(ejections.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task Connections_are_reused_so_handshakes_follow_connections_not_requests()
    {
        using var host = Client(Inventory);
        using var handshakes = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mesh", "mesh.identity.client.handshakes");
        var client = host.Client;

        const int Requests = 1000;
        await Load.RunAsync(Requests, 4, _ => Load.GetOkAsync(client, "http://inventory/whoami"));

        var made = handshakes.GetMeasurementSnapshot().Sum(m => m.Value);
        output.WriteLine($"{made} mutual TLS handshakes for {Requests} requests from 4 callers ({_server.Connections} connections accepted).");
        Assert.Equal(_server.Connections, made);
        Assert.InRange(made, 1, 4);
    }

    [Fact]
    public async Task A_client_without_an_identity_calls_an_endpoint_with_one_in_plaintext()
    {
        await using var plain = await TestBackend.StartAsync("plain");
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0:Address"] = plain.Address.ToString().Replace("http:", "https:", StringComparison.Ordinal),
            ["Mesh:Services:inventory:Endpoints:0:Identity"] = Inventory,
        };
        using var host = MeshTestHost.Create(config);

        using var response = await host.Client.GetAsync("http://inventory/items");

        Assert.Equal("plain", response.Headers.GetValues("x-backend").Single());
    }

    [Fact]
    public async Task Three_rotations_of_client_and_server_certificates_under_load_fail_no_request()
    {
        _server.CloseEveryConnection = true;
        using var host = Client(Inventory);
        var client = host.Client;
        using var stop = new CancellationTokenSource();
        var failures = new ConcurrentQueue<Exception>();
        var sent = 0L;
        var callers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Load.GetOkAsync(client, "http://inventory/whoami");
                    Interlocked.Increment(ref sent);
                }
                catch (Exception ex)
                {
                    failures.Enqueue(ex);
                }
            }
        })).ToList();

        await Eventually.WaitAsync(() => _server.ClientSerials.Count == 1, "traffic with the first client certificate");
        for (var rotation = 1; rotation <= 3; rotation++)
        {
            _server.Holder.Update(Svid(_root, Inventory));
            WriteClientFiles(Svid(_root, Orders));
            var expected = rotation + 1;
            await Eventually.WaitAsync(() => _server.ClientSerials.Count == expected, $"the client's certificate of rotation {rotation} on new connections", TimeSpan.FromSeconds(20));
        }

        var before = Interlocked.Read(ref sent);
        await Eventually.WaitAsync(() => Interlocked.Read(ref sent) > before + 20, "traffic after the last rotation");
        await stop.CancelAsync();
        await Task.WhenAll(callers);

        output.WriteLine($"{sent} requests over {_server.Connections} connections through three rotations of both certificates.");
        Assert.Empty(failures);
    }

    private MeshTestHost Client(string identity, Action<IServiceCollection>? configure = null, Uri? address = null, Dictionary<string, string?>? more = null) => MeshTestHost.Create(
        new Dictionary<string, string?>(more ?? [])
        {
            ["Mesh:ServiceName"] = "orders",
            ["Mesh:Identity:Source"] = "files",
            ["Mesh:Identity:CertificatePath"] = Path.Combine(_files.Path, "svid.pem"),
            ["Mesh:Identity:KeyPath"] = Path.Combine(_files.Path, "svid-key.pem"),
            ["Mesh:Identity:BundlePath"] = Path.Combine(_files.Path, "bundle.pem"),
            ["Mesh:Services:inventory:Endpoints:0:Address"] = (address ?? _server.Address).ToString().Replace("https:", "http:", StringComparison.Ordinal),
            ["Mesh:Services:inventory:Endpoints:0:Identity"] = identity,
        },
        configure);

    private void WriteClientFiles(WorkloadSvid svid)
    {
        var (certificate, key) = svid.ExportPem();

        // The key first: the source refuses a pair that does not match, and keeps the last good one meanwhile.
        File.WriteAllText(Path.Combine(_files.Path, "svid-key.pem"), key);
        File.WriteAllText(Path.Combine(_files.Path, "svid.pem"), certificate);
        File.WriteAllText(Path.Combine(_files.Path, "bundle.pem"), _root.Certificate.ExportCertificatePem());
    }

    private static WorkloadSvid Svid(TestPki authority, string id) =>
        WorkloadSvid.Create(authority.Issue(new TestLeaf { Uris = [id], NotAfter = DateTimeOffset.UtcNow.AddHours(1) }));

    private static TrustBundle Bundle(TestPki root) => TrustBundle.Create("mesh.local", [root.Certificate]);

    private static T? Inner<T>(Exception exception)
        where T : Exception
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is T found)
            {
                return found;
            }
        }

        return null;
    }
}
