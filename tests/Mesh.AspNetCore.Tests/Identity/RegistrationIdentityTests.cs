using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Mesh.AspNetCore.Registration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>
/// What a server with an identity registers: https at the port Kestrel bound and the identity it presents, and its
/// plaintext address again once its mode turns off.
/// </summary>
/// <remarks>
/// The first test reads the bodies the registrar sends to a stub control plane; the second registers with a real meshd and
/// is reached through it by a meshed client.
/// </remarks>
public sealed class RegistrationIdentityTests : IDisposable
{
    private readonly MeshPki _pki = new();
    private readonly TempDirectory _cache = new("mesh-reg-identity-");

    public void Dispose()
    {
        _cache.Dispose();
        _pki.Dispose();
    }

    [Fact]
    public async Task A_server_with_an_identity_registers_https_and_its_identity_and_plaintext_once_its_mode_turns_off()
    {
        await using var stub = await StubControlPlane.StartAsync();
        stub.LeaseTtl = TimeSpan.FromSeconds(1);
        stub.Publish("{}");
        await using var server = await MeshedServers.StartAsync(
            _pki,
            mode: null,
            mesh: o =>
            {
                o.ControlPlane.Address = stub.Address.ToString();
                o.ControlPlane.Token = "test-token";
                o.ControlPlane.CacheDirectory = _cache.Path;
            },
            services: s => s.Configure<MeshServerOptions>(o =>
            {
                o.InstanceId = "payments-1";
                o.DrainTime = TimeSpan.Zero;
            }));
        var registration = server.App.Services.GetRequiredService<MeshRegistration>();
        await registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));
        var port = server.Address.Port.ToString(CultureInfo.InvariantCulture);

        var first = Body(stub.Registrations.First(r => r.Method == "PUT"));
        Assert.Equal($"https://127.0.0.1:{port}", first["address"]?.GetValue<string>());
        Assert.Equal("spiffe://mesh.local/svc/payments", first["identity"]?.GetValue<string>());
        Assert.Equal(new Uri($"https://127.0.0.1:{port}"), registration.Address);

        stub.Publish("""{ "payments": { "policyVersion": 1, "policy": { "Mtls": { "Mode": "Off" } } } }""");
        // The stub records the request before it answers; the registrar takes the new identity from the answer.
        await Eventually.WaitAsync(() => stub.Registrations.Count(r => r.Method == "PUT") == 2 && registration.Identity is null, "the registrar to register again, without an identity");

        var again = Body(stub.Registrations.Last(r => r.Method == "PUT"));
        Assert.Equal($"http://127.0.0.1:{port}", again["address"]?.GetValue<string>());
        Assert.False(again.ContainsKey("identity"));
        Assert.Null(registration.Identity);
    }

    [Fact]
    public async Task A_server_with_a_files_identity_registers_https_and_its_identity_with_meshd_and_a_meshed_client_reaches_it_over_mutual_TLS()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();
        await using var server = await MeshedServers.StartAsync(
            _pki,
            "Strict",
            mesh: o =>
            {
                o.ControlPlane.Address = meshd.Address.ToString();
                o.ControlPlane.Token = TestMeshd.WorkloadToken;
                o.ControlPlane.CacheDirectory = _cache.Path;
            },
            services: s => s.Configure<MeshServerOptions>(o => o.DrainTime = TimeSpan.Zero));
        await server.App.Services.GetRequiredService<MeshRegistration>().Registered.WaitAsync(TimeSpan.FromSeconds(10));

        var instance = Assert.Single((await meshd.SnapshotAsync())["services"]![MeshPki.Service]!["instances"]!.AsArray())!;
        Assert.Equal($"https://127.0.0.1:{server.Address.Port.ToString(CultureInfo.InvariantCulture)}", instance["address"]!.GetValue<string>());
        Assert.Equal("spiffe://mesh.local/svc/payments", instance["identity"]!.GetValue<string>());

        // A client that knows the service only through meshd, with an identity of its own from the same files PKI.
        var (certificate, key) = _pki.WriteCaller("orders", "orders");
        using var clientCache = new TempDirectory("mesh-reg-client-");
        using var client = MeshTestHost.Create(new Dictionary<string, string?>
        {
            ["Mesh:ServiceName"] = "orders",
            ["Mesh:ControlPlane:Address"] = meshd.Address.ToString(),
            ["Mesh:ControlPlane:Token"] = TestMeshd.WorkloadToken,
            ["Mesh:ControlPlane:CacheDirectory"] = clientCache.Path,
            ["Mesh:Identity:Source"] = "files",
            ["Mesh:Identity:CertificatePath"] = certificate,
            ["Mesh:Identity:KeyPath"] = key,
            ["Mesh:Identity:BundlePath"] = _pki.BundlePath,
        });
        await client.StartAsync();

        var who = await client.Client.GetFromJsonAsync<Who>("http://payments/who");

        Assert.Equal("spiffe://mesh.local/svc/orders", who!.Id);
        Assert.True(who.Https);
    }

    private static JsonObject Body(RecordedCall call) => JsonNode.Parse(call.Body)!.AsObject();
}
