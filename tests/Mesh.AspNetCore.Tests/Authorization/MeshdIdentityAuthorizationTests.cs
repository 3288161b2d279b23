using System.Net.Http.Json;
using Mesh.AspNetCore.Registration;
using Mesh.AspNetCore.Tests.Identity;
using Mesh.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Authorization;

/// <summary>
/// Everything from one real meshd: its CA issues the SVIDs of payments, orders and gateway (each with a credential of its
/// own), payments registers there and the callers find it there, and payments' policy is PUT there.
/// </summary>
public sealed class MeshdIdentityAuthorizationTests : IDisposable
{
    private readonly TempDirectory _serverCache = new("mesh-authz-meshd-server-");
    private readonly TempDirectory _ordersCache = new("mesh-authz-meshd-orders-");
    private readonly TempDirectory _gatewayCache = new("mesh-authz-meshd-gateway-");
    private readonly LogCollector _logs = new();

    public void Dispose()
    {
        _gatewayCache.Dispose();
        _ordersCache.Dispose();
        _serverCache.Dispose();
    }

    [Fact]
    public async Task With_SVIDs_from_meshd_and_the_policy_put_through_meshd_orders_may_charge_and_gateway_gets_403()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();
        (await meshd.PutPolicyAsync("payments", """
            { "Mtls": { "Mode": "Strict" },
              "Authorization": { "Rules": [ { "Name": "orders-charge", "Action": "Allow", "From": [ "orders" ], "To": [ { "Methods": [ "POST" ], "Paths": [ "/charges" ] } ] } ] } }
            """)).EnsureSuccessStatusCode();
        var (_, paymentsToken) = await meshd.CreateCredentialAsync("payments");
        var (_, ordersToken) = await meshd.CreateCredentialAsync("orders");
        var (_, gatewayToken) = await meshd.CreateCredentialAsync("gateway");

        await using var server = await TestApp.StartAsync(
            s =>
            {
                s.AddMeshServer();
                s.Configure<MeshOptions>(o =>
                {
                    o.ServiceName = "payments";
                    o.ControlPlane.Address = meshd.Address.ToString();
                    o.ControlPlane.Token = paymentsToken;
                    o.ControlPlane.CacheDirectory = _serverCache.Path;
                    o.Identity.Source = IdentitySourceNames.Meshd;
                });
                s.Configure<MeshServerOptions>(o => o.DrainTime = TimeSpan.Zero);
                s.AddSingleton<ILoggerProvider>(_logs);
            },
            app => app.MapPost("/charges", (HttpContext context) => Results.Json(Who.Of(context))));
        await server.App.Services.GetRequiredService<MeshRegistration>().Registered.WaitAsync(TimeSpan.FromSeconds(30));

        // The server's certificate is meshd's, for payments.
        var serverSvid = server.App.Services.GetRequiredService<WorkloadCertificate>().Latest;
        Assert.NotNull(serverSvid);
        Assert.Equal("spiffe://mesh.local/svc/payments", serverSvid.Id.ToString());

        using var orders = Caller(meshd, "orders", ordersToken, _ordersCache);
        using var gateway = Caller(meshd, "gateway", gatewayToken, _gatewayCache);
        await orders.StartAsync();
        await gateway.StartAsync();
        Assert.Equal("spiffe://mesh.local/svc/orders", orders.Services.GetRequiredService<WorkloadCertificate>().Latest?.Id.ToString());
        Assert.Equal("spiffe://mesh.local/svc/gateway", gateway.Services.GetRequiredService<WorkloadCertificate>().Latest?.Id.ToString());

        var charges = new Uri("http://payments/charges");
        using (var charged = await orders.Client.PostAsync(charges, null))
        {
            Assert.Equal(200, (int)charged.StatusCode);
            var who = (await charged.Content.ReadFromJsonAsync<Who>())!;
            Assert.Equal("spiffe://mesh.local/svc/orders", who.Id);
            Assert.True(who.Https);
        }

        using (var denied = await gateway.Client.PostAsync(charges, null))
        {
            Assert.Equal(403, (int)denied.StatusCode);
            Assert.Empty(await denied.Content.ReadAsByteArrayAsync());
        }

        // The caller meshd's certificate names is the one audited.
        Assert.Contains(_logs.Entries, e => e.Category == "Mesh.Server.Authorization" && e.Level == LogLevel.Warning
            && e.Message.Contains("Denied POST /charges on service payments to caller spiffe://mesh.local/svc/gateway", StringComparison.Ordinal)
            && e.Message.Contains("Rule: (no-match)", StringComparison.Ordinal));
        Assert.DoesNotContain(_logs.Entries, e => e.Category == "Mesh.Server.Authorization" && e.Level == LogLevel.Warning && e.Message.Contains("svc/orders", StringComparison.Ordinal));
    }

    private static MeshTestHost Caller(TestMeshd meshd, string service, string token, TempDirectory cache) => MeshTestHost.Create(new Dictionary<string, string?>
    {
        ["Mesh:ServiceName"] = service,
        ["Mesh:ControlPlane:Address"] = meshd.Address.ToString(),
        ["Mesh:ControlPlane:Token"] = token,
        ["Mesh:ControlPlane:CacheDirectory"] = cache.Path,
        ["Mesh:Identity:Source"] = "meshd",
    });
}
