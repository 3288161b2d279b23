using System.Diagnostics.Metrics;
using Grpc.Core;
using Mesh.AspNetCore.Registration;
using Mesh.AspNetCore.Tests.Identity;
using Mesh.Authorization;
using Mesh.Grpc.Inventory;
using Mesh.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Authorization;

/// <summary>
/// A real gRPC service behind a strict server, called over the mesh's mutual TLS by meshed gRPC clients, each with a
/// file identity of its own: the policy names gRPC methods, the caller the certificate proves is what it sees, a denial
/// is <c>PERMISSION_DENIED</c> the mesh client does not try again, and the per-caller rate limit is
/// <c>RESOURCE_EXHAUSTED</c> for the noisy caller alone.
/// </summary>
public sealed class GrpcAuthorizationTests : IDisposable
{
    private readonly MeshPki _pki = new();
    private readonly LogCollector _logs = new();
    private readonly InventoryBehavior _inventory = new("payments");

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task Orders_may_call_GetItem_gateway_gets_PERMISSION_DENIED_once_with_nothing_that_says_why_and_is_audited()
    {
        await using var server = await StartAsync(a => a.Rules.Add(new AuthorizationRuleOptions
        {
            Name = "orders-get-item",
            Action = "Allow",
            From = { "orders" },
            To = { new AuthorizationTargetOptions { Grpc = { "inventory.Inventory/GetItem" } } },
        }));
        using var decisions = Metric(server, "mesh.server.authorization");
        await using var orders = await CallerAsync(server, "orders");
        await using var gateway = await CallerAsync(server, "gateway");

        var item = await orders.Client.GetItemAsync(new ItemRequest { Sku = "sku-1" });
        Assert.Equal("sku-1", item.Sku);
        Assert.Equal("payments", item.Instance);

        // The mesh client does try a retryable status again: one UNAVAILABLE, then the answer, on the second attempt.
        _inventory.FailNext(StatusCode.Unavailable);
        Assert.Equal("sku-2", (await orders.Client.GetItemAsync(new ItemRequest { Sku = "sku-2" })).Sku);
        Assert.Equal(["1"], _inventory.PreviousAttempts);
        var served = _inventory.Calls;

        // Another method of the same service is not in the rule: denied to orders too.
        var streamed = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = orders.Client.ListItems(new ListRequest { Count = 1 });
            await call.ResponseStream.MoveNext(CancellationToken.None);
        });
        Assert.Equal(StatusCode.PermissionDenied, streamed.StatusCode);

        var denied = await Assert.ThrowsAsync<RpcException>(() => gateway.Client.GetItemAsync(new ItemRequest { Sku = "sku-3" }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);

        // Nothing that helps an attacker: no rule, no caller, no service, no policy in the answer.
        Assert.Equal("permission denied", denied.Status.Detail);
        Assert.DoesNotContain(denied.Trailers, e => e.Key.StartsWith("mesh", StringComparison.OrdinalIgnoreCase) || e.Value.Contains("orders", StringComparison.Ordinal));

        // A request whose message is still being sent when the denial comes back gets the same status.
        var large = await Assert.ThrowsAsync<RpcException>(() => gateway.Client.GetItemAsync(new ItemRequest { Sku = new string('x', 1 << 20) }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, large.StatusCode);

        // One attempt each reached the server and was denied there; the service itself saw none.
        Assert.Equal(served, _inventory.Calls);
        Assert.Equal(2, Sum(decisions, "gateway", "deny", AuthorizationDecision.NoMatch));
        Assert.Equal(1, Sum(decisions, "orders", "deny", AuthorizationDecision.NoMatch));
        Assert.Equal(3, Sum(decisions, "orders", "allow", "orders-get-item"));

        var audit = _logs.Entries.Where(e => e.Category == "Mesh.Server.Authorization" && e.Level == LogLevel.Warning).Select(e => e.Message).ToList();
        Assert.Equal(3, audit.Count);
        Assert.Equal(2, audit.Count(m => m.Contains("Denied POST /inventory.Inventory/GetItem on service payments to caller spiffe://mesh.local/svc/gateway from 127.0.0.1", StringComparison.Ordinal)
            && m.Contains("Rule: (no-match)", StringComparison.Ordinal)));
        Assert.Single(audit, m => m.Contains("Denied POST /inventory.Inventory/ListItems on service payments to caller spiffe://mesh.local/svc/orders", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_noisy_gRPC_caller_gets_RESOURCE_EXHAUSTED_with_pushback_while_another_caller_is_unaffected()
    {
        await using var server = await StartAsync(a =>
        {
            a.Rules.Add(new AuthorizationRuleOptions
            {
                Name = "inventory",
                Action = "Allow",
                From = { "orders", "gateway" },
                To = { new AuthorizationTargetOptions { Grpc = { "inventory.Inventory/*" } } },
            });
            a.RateLimitPerCaller = new CallerRateLimitOptions { PermitsPerSecond = 1, Burst = 2 };
        });
        using var limited = Metric(server, "mesh.server.rate_limited");
        await using var orders = await CallerAsync(server, "orders");
        await using var gateway = await CallerAsync(server, "gateway");

        var answered = 0;
        RpcException? exhausted = null;
        for (var i = 0; i < 50 && exhausted is null; i++)
        {
            try
            {
                await orders.Client.GetItemAsync(new ItemRequest { Sku = "noisy" });
                answered++;
            }
            catch (RpcException ex)
            {
                exhausted = ex;
            }
        }

        Assert.NotNull(exhausted);
        Assert.Equal(StatusCode.ResourceExhausted, exhausted.StatusCode);
        Assert.Equal("rate limited", exhausted.Status.Detail);
        Assert.InRange(answered, 2, 49);
        var pushback = exhausted.Trailers.GetValue("grpc-retry-pushback-ms");
        Assert.NotNull(pushback);
        Assert.True(int.Parse(pushback, System.Globalization.CultureInfo.InvariantCulture) >= 1000);

        // The refused call was one attempt: RESOURCE_EXHAUSTED is not retried unless the client's policy asks for it.
        Assert.Equal(1, Sum(limited, "orders", null, null));
        Assert.Equal(answered, _inventory.Calls);

        Assert.Equal("calm-1", (await gateway.Client.GetItemAsync(new ItemRequest { Sku = "calm-1" })).Sku);
        Assert.Equal("calm-2", (await gateway.Client.GetItemAsync(new ItemRequest { Sku = "calm-2" })).Sku);
        Assert.Equal(0, Sum(limited, "gateway", null, null));
    }

    private Task<TestApp> StartAsync(Action<AuthorizationOptions> policy) => MeshedServers.StartAsync(
        _pki,
        mode: null,
        mesh: o =>
        {
            if (!o.Services.TryGetValue(MeshPki.Service, out var own))
            {
                o.Services[MeshPki.Service] = own = new MeshServiceOptions();
            }

            own.Mtls.Mode = "Strict";
            policy(own.Authorization);
        },
        services: s =>
        {
            s.AddGrpc();
            s.AddSingleton(_inventory);
            s.Configure<MeshServerOptions>(o => o.Register = false);
            s.AddSingleton<ILoggerProvider>(_logs);
        },
        pipeline: app => app.MapGrpcService<InventoryService>());

    /// <summary>A meshed gRPC client of <c>payments</c> in a process of its own, with a file identity of <paramref name="service"/>.</summary>
    private async Task<Caller> CallerAsync(TestApp server, string service)
    {
        var (certificate, key) = _pki.WriteCaller(service, service);
        var services = new ServiceCollection();
        services.AddMesh(o =>
        {
            o.ServiceName = service;
            o.Identity.Source = IdentitySourceNames.Files;
            o.Identity.CertificatePath = certificate;
            o.Identity.KeyPath = key;
            o.Identity.BundlePath = _pki.BundlePath;
            o.Services[MeshPki.Service] = new MeshServiceOptions { Endpoints = { new(server.Address.ToString()) { Identity = MeshPki.ServerId.ToString() } } };
        });
        services.AddGrpcClient<Inventory.InventoryClient>(o => o.Address = new Uri("http://payments")).AddMesh();
        var provider = services.BuildServiceProvider();
        var hosted = provider.GetServices<IHostedService>().ToList();
        foreach (var h in hosted)
        {
            await h.StartAsync(CancellationToken.None);
        }

        return new Caller(provider, hosted);
    }

    private static MetricCollector<long> Metric(TestApp server, string name) =>
        new(server.App.Services.GetRequiredService<IMeterFactory>(), "Mesh", name);

    private static long Sum(MetricCollector<long> metric, string caller, string? decision, string? rule) =>
        metric.GetMeasurementSnapshot()
            .Where(m => m.Tags["mesh.caller"] as string == caller
                && (decision is null || m.Tags["mesh.authorization.decision"] as string == decision)
                && (rule is null || m.Tags["mesh.authorization.rule"] as string == rule))
            .Sum(m => m.Value);

    private sealed class Caller(ServiceProvider provider, List<IHostedService> hosted) : IAsyncDisposable
    {
        public Inventory.InventoryClient Client { get; } = provider.GetRequiredService<Inventory.InventoryClient>();

        public async ValueTask DisposeAsync()
        {
            foreach (var h in hosted)
            {
                await h.StopAsync(CancellationToken.None);
            }

            await provider.DisposeAsync();
        }
    }
}
