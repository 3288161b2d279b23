using Grpc.Core;
using Mesh.Balancing;
using Mesh.Grpc.Inventory;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;
using StatusCode = Grpc.Core.StatusCode;
using Mesh.Client.Tests.Telemetry;

namespace Mesh.Client.Tests.Grpc;

/// <summary>A meshed gRPC client against three real gRPC servers: per-call balancing, status-aware retries, deadlines.</summary>
public sealed class GrpcTests : IAsyncLifetime, IDisposable
{
    private readonly LogCollector _logs = new();
    private GrpcServers _servers = null!;

    public async Task InitializeAsync() => _servers = await GrpcServers.StartAsync(3);

    public async Task DisposeAsync() => await _servers.DisposeAsync();

    public void Dispose() => _logs.Dispose();

    [Fact]
    public async Task Unary_calls_are_spread_over_every_server_by_the_balancer()
    {
        await using var provider = Client(LoadBalancerNames.RoundRobin);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();

        for (var i = 0; i < 300; i++)
        {
            await client.GetItemAsync(new ItemRequest { Sku = $"sku-{i}" });
        }

        Assert.All(_servers.Behaviors, b => Assert.Equal(100, b.Calls));
    }

    [Fact]
    public async Task UNAVAILABLE_is_retried_on_another_server_and_the_call_succeeds()
    {
        // Every server fails its first call; the fourth attempt (a server already tried, now healthy) succeeds.
        await using var provider = Client(LoadBalancerNames.RoundRobin, maxAttempts: 4);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();
        foreach (var behavior in _servers.Behaviors)
        {
            behavior.FailNext(StatusCode.Unavailable);
        }

        var item = await client.GetItemAsync(new ItemRequest { Sku = "a" });

        Assert.Equal("a", item.Sku);
        Assert.Equal(4, _servers.Behaviors.Sum(b => b.Calls));
        Assert.Equal(["1", "2", "3"], _servers.Behaviors.SelectMany(b => b.PreviousAttempts).Order());
    }

    [Fact]
    public async Task Calls_to_a_server_that_keeps_answering_UNAVAILABLE_are_retried_on_the_others()
    {
        // About retries, not the budget: a third of the calls need one, more than the default budget allows at first.
        var config = OutlierDetectionOff();
        config["Mesh:Services:inventory:Retry:Budget:Ratio"] = "1";
        await using var provider = Client(LoadBalancerNames.RoundRobin, extra: config);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();
        _servers.Behaviors[0].FailNext(Enumerable.Repeat(StatusCode.Unavailable, 1000).ToArray());

        for (var i = 0; i < 60; i++)
        {
            try
            {
                var item = await client.GetItemAsync(new ItemRequest { Sku = $"sku-{i}" });
                Assert.NotEqual("g0", item.Instance);
            }
            catch (RpcException)
            {
                Assert.Fail(string.Join("\n", _logs.Entries.Where(e => e.Category.StartsWith("Mesh", StringComparison.Ordinal)).Select(e => e.Message).TakeLast(5)));
            }
        }

        Assert.True(_servers.Behaviors[0].Calls >= 10);
        Assert.Equal(_servers.Behaviors[0].Calls, _servers.Behaviors.Skip(1).Sum(b => b.PreviousAttempts.Count));
    }

    [Fact]
    public async Task A_call_whose_exchange_breaks_before_an_answer_is_retried_as_UNAVAILABLE()
    {
        await using var provider = Client(LoadBalancerNames.RoundRobin, maxAttempts: 4);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();
        foreach (var behavior in _servers.Behaviors)
        {
            behavior.AbortNext(1);
        }

        var item = await client.GetItemAsync(new ItemRequest { Sku = "a" });

        Assert.Equal("a", item.Sku);
        Assert.Equal(4, _servers.Behaviors.Sum(b => b.Calls));
    }

    [Fact]
    public async Task INVALID_ARGUMENT_is_not_retried()
    {
        await using var provider = Client(LoadBalancerNames.RoundRobin);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();
        foreach (var behavior in _servers.Behaviors)
        {
            behavior.FailNext(StatusCode.InvalidArgument);
        }

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.GetItemAsync(new ItemRequest { Sku = "a" }));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(1, _servers.Behaviors.Sum(b => b.Calls));
    }

    [Fact]
    public async Task A_negative_pushback_stops_retries()
    {
        await using var provider = Client(LoadBalancerNames.RoundRobin);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();
        foreach (var behavior in _servers.Behaviors)
        {
            behavior.FailNextWithPushback(StatusCode.Unavailable, "-1");
        }

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.GetItemAsync(new ItemRequest { Sku = "a" }));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(1, _servers.Behaviors.Sum(b => b.Calls));
    }

    [Fact]
    public async Task A_positive_pushback_is_retried()
    {
        await using var provider = Client(LoadBalancerNames.RoundRobin, maxAttempts: 4);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();
        foreach (var behavior in _servers.Behaviors)
        {
            behavior.FailNextWithPushback(StatusCode.Unavailable, "30");
        }

        var item = await client.GetItemAsync(new ItemRequest { Sku = "b" });

        Assert.Equal("b", item.Sku);
        Assert.Equal(4, _servers.Behaviors.Sum(b => b.Calls));
    }

    [Fact]
    public async Task One_server_stopped_during_2000_unary_calls_costs_no_call()
    {
        await using var provider = Client(LoadBalancerNames.PeakEwma);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();
        var stopped = Task.CompletedTask;

        var ok = await Load.RunAsync(2000, 16, async i =>
        {
            if (i == 1000)
            {
                stopped = _servers.StopAsync(1);
            }

            try
            {
                await client.GetItemAsync(new ItemRequest { Sku = $"sku-{i}" });
            }
            catch (RpcException ex)
            {
                // Say exactly what failed, so a failure names its cause.
                Assert.Fail($"call {i}: {ex.StatusCode} {ex.Status.Detail} {ex.Status.DebugException}");
            }
        });
        await stopped;

        Assert.Equal(2000, ok);
    }

    [Fact]
    public async Task A_100_ms_deadline_against_a_server_that_waits_ends_as_DEADLINE_EXCEEDED_and_the_server_sees_it()
    {
        await using var provider = Client(LoadBalancerNames.RoundRobin);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();
        await WarmUpAsync(client);
        foreach (var behavior in _servers.Behaviors)
        {
            behavior.Delay = TimeSpan.FromSeconds(1);
        }

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.GetItemAsync(new ItemRequest { Sku = "a" }, deadline: DateTime.UtcNow.AddMilliseconds(100)));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        var server = Assert.Single(_servers.Behaviors, b => b.Calls == 2);
        var timeout = GrpcProtocolTimeout(server.Timeouts.Last());
        Assert.InRange(timeout, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(100));
        await Eventually.WaitAsync(() => server.Cancelled == 1, "the server to see the call cancelled");
    }

    [Fact]
    public async Task The_mesh_timeout_ends_a_gRPC_call_as_DEADLINE_EXCEEDED_and_bounds_grpc_timeout()
    {
        await using (var warm = Client(LoadBalancerNames.RoundRobin))
        {
            await WarmUpAsync(warm.GetRequiredService<Inventory.InventoryClient>());
        }

        await using var provider = Client(LoadBalancerNames.RoundRobin, timeout: "00:00:00.200");
        var client = provider.GetRequiredService<Inventory.InventoryClient>();
        foreach (var behavior in _servers.Behaviors)
        {
            behavior.Delay = TimeSpan.FromSeconds(2);
        }

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.GetItemAsync(new ItemRequest { Sku = "a" }));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Contains("service 'inventory'", error.Status.Detail, StringComparison.Ordinal);
        var server = Assert.Single(_servers.Behaviors, b => b.Calls == 2);
        Assert.InRange(GrpcProtocolTimeout(server.Timeouts.Last()), TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Spans_of_gRPC_calls_carry_the_RPC_attributes()
    {
        using var collector = new SpanCollector();
        using var tracing = OpenTelemetry.Sdk.CreateTracerProviderBuilder().AddMeshInstrumentation().AddProcessor(collector).Build();
        await using var provider = Client(LoadBalancerNames.RoundRobin, maxAttempts: 4);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();
        foreach (var behavior in _servers.Behaviors)
        {
            behavior.FailNext(StatusCode.Unavailable);
        }

        using (collector.StartTrace())
        {
            await client.GetItemAsync(new ItemRequest { Sku = "a" });
        }

        tracing.ForceFlush();
        var spans = collector.Snapshot();
        var call = Assert.Single(spans, s => s.Kind == System.Diagnostics.ActivityKind.Internal);
        Assert.Equal("grpc", call.GetTagItem("rpc.system"));
        Assert.Equal("inventory.Inventory", call.GetTagItem("rpc.service"));
        Assert.Equal("GetItem", call.GetTagItem("rpc.method"));
        var attempts = spans.Where(s => s.ParentSpanId == call.SpanId).OrderBy(s => s.GetTagItem("mesh.attempt")).ToList();
        Assert.Equal(4, attempts.Count);
        Assert.All(attempts.Take(3), a => Assert.Equal(14, a.GetTagItem("rpc.grpc.status_code")));
        Assert.All(attempts, a => Assert.Equal("GetItem", a.GetTagItem("rpc.method")));
    }

    [Fact]
    public async Task An_https_endpoint_is_called_over_TLS()
    {
        using var certificate = TestCertificates.CreateLoopbackServer();
        var behavior = new InventoryBehavior("tls");
        await using var server = await TestApp.StartAsync(
            services => services.AddGrpc().Services.AddSingleton(behavior),
            app => app.MapGrpcService<InventoryService>(),
            http2Only: true,
            certificate: certificate);
        var services = new ServiceCollection();
        services.AddMesh(o => o.Services["inventory"] = new MeshServiceOptions { Endpoints = { new(server.Address.ToString()) } });
        services.AddGrpcClient<Inventory.InventoryClient>(o => o.Address = new Uri("http://inventory"))
            .AddMesh()
            .ConfigurePrimaryHttpMessageHandler((handler, _) => ((SocketsHttpHandler)handler).SslOptions.RemoteCertificateValidationCallback =
                (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString());
        await using var provider = services.BuildServiceProvider();

        var item = await provider.GetRequiredService<Inventory.InventoryClient>().GetItemAsync(new ItemRequest { Sku = "secure" });

        Assert.Equal("tls", item.Instance);
        Assert.Equal("https", server.Address.Scheme);
    }

    [Fact]
    public async Task A_server_stream_of_10000_messages_completes_through_the_mesh()
    {
        await using var provider = Client(LoadBalancerNames.PeakEwma);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();

        using var call = client.ListItems(new ListRequest { Count = 10_000 });
        var received = 0;
        await foreach (var item in call.ResponseStream.ReadAllAsync())
        {
            Assert.Equal(received, item.Quantity);
            received++;
        }

        Assert.Equal(10_000, received);
    }

    [Fact]
    public async Task An_explained_call_has_its_explanation_in_the_response_headers()
    {
        // Every server fails its first call: the explanation shows the retries the UNAVAILABLE answers caused.
        await using var provider = Client(LoadBalancerNames.RoundRobin, maxAttempts: 4);
        var client = provider.GetRequiredService<Inventory.InventoryClient>();
        foreach (var behavior in _servers.Behaviors)
        {
            behavior.FailNext(StatusCode.Unavailable);
        }

        using var call = client.GetItemAsync(new ItemRequest { Sku = "a" }, new Metadata { { Mesh.Resilience.MeshExplanation.RequestHeader, "1" } });
        var headers = await call.ResponseHeadersAsync;
        await call;

        var text = headers.GetValue(Mesh.Resilience.MeshExplanation.ResponseHeader);
        Assert.NotNull(text);
        var endpoint = @"127\.0\.0\.1:\d+";
        Assert.Matches(
            $"attempt=1 first pick={endpoint} -> gRPC status unavailable; attempt=2 retry after gRPC status unavailable pick={endpoint} -> gRPC status unavailable; "
            + $"attempt=3 retry after gRPC status unavailable pick={endpoint} -> gRPC status unavailable; attempt=4 retry after gRPC status unavailable pick={endpoint} -> 200$",
            text);
    }

    // One call to each server first, so connections and code are warm before a deadline of a few hundred milliseconds.
    private static async Task WarmUpAsync(Inventory.InventoryClient client)
    {
        for (var i = 0; i < 3; i++)
        {
            await client.GetItemAsync(new ItemRequest { Sku = "warm-up" });
        }
    }

    private static TimeSpan GrpcProtocolTimeout(string value) => Mesh.Protocol.GrpcProtocol.ParseTimeout(value)!.Value;

    private static Dictionary<string, string?> OutlierDetectionOff() => new() { ["Mesh:Services:inventory:OutlierDetection:Enabled"] = "false" };

    private ServiceProvider Client(string balancer, string? timeout = null, int maxAttempts = 3, Dictionary<string, string?>? extra = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:LoadBalancer"] = balancer,
            ["Mesh:Services:inventory:Retry:MaxAttempts"] = maxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        for (var i = 0; i < _servers.Addresses.Count; i++)
        {
            config[$"Mesh:Services:inventory:Endpoints:{i}"] = _servers.Addresses[i].ToString();
        }

        if (timeout is not null)
        {
            config["Mesh:Services:inventory:Timeout"] = timeout;
        }

        foreach (var (key, value) in extra ?? [])
        {
            config[key] = value;
        }

        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(_logs).SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Information));
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        services.AddMesh();
        services.AddGrpcClient<Inventory.InventoryClient>(o => o.Address = new Uri("http://inventory")).AddMesh();
        return services.BuildServiceProvider();
    }
}
