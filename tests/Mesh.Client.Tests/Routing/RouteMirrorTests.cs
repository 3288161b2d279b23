using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Mesh.Logical;
using Mesh.Resilience;
using Mesh.Utilities;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// Mirroring over real servers on loopback: the configured share of a route's requests reaches the mirror with
/// <c>mesh-mirror: 1</c>; a stalled or dead mirror leaves every primary call successful and unchanged; MaxConcurrent
/// bounds the copies in flight; a copy has its own timeout and never the caller's cancellation; requests of other
/// routes are not copied; a streamed body is not copied.
/// </summary>
public sealed class RouteMirrorTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestBackend _inventory = null!;

    public async Task InitializeAsync() => _inventory = await TestBackend.StartAsync("inventory");

    public async Task DisposeAsync() => await _inventory.DisposeAsync();

    [Fact]
    public async Task Half_of_4000_requests_reach_the_mirror_within_three_points_marked_as_copies()
    {
        await using var shadow = await Shadow.StartAsync(stall: false);
        using var host = Host(shadow.Address, new() { ["Percent"] = "50", ["MaxConcurrent"] = "1024" });
        var client = host.Client;

        var succeeded = await Load.RunAsync(4000, 8, _ => Load.GetOkAsync(client, "http://inventory/items?x=1"));
        await Eventually.WaitAsync(() => MirrorOf(host).InFlight == 0, "the copies to end");

        var counters = host.Catalog.CountersOf("inventory");
        var share = shadow.Requests / 4000.0;
        output.WriteLine($"mirror got {shadow.Requests} of 4000 ({share:P2}); sent {counters.MirrorsSent}, failed {counters.MirrorsFailed}, skipped {counters.MirrorsSkipped}.");
        Assert.Equal(4000, succeeded);
        Assert.Equal(4000, _inventory.Requests);
        Assert.InRange(share, 0.47, 0.53);
        Assert.Equal(shadow.Requests, shadow.Marked);
        Assert.Equal(shadow.Requests, counters.MirrorsSent);
        Assert.Equal(0, counters.MirrorsFailed);
        Assert.Equal(0, counters.MirrorsSkipped);
        Assert.All(shadow.Seen, seen => Assert.Equal("/items?x=1", seen.Target));

        // The primary itself is not marked.
        using var response = await client.GetAsync("http://inventory/items");
        Assert.DoesNotContain(MeshHeaders.Mirror, (await TestBackend.ReadEchoAsync(response)).Headers.Keys, StringComparer.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_stalled_mirror_leaves_every_primary_call_successful_and_MaxConcurrent_bounds_the_copies_in_flight()
    {
        await using var shadow = await Shadow.StartAsync(stall: true);
        using var host = Host(shadow.Address, new() { ["MaxConcurrent"] = "4", ["Timeout"] = "00:00:30" });
        var client = host.Client;

        var succeeded = await Load.RunAsync(200, 4, _ => Load.GetOkAsync(client, "http://inventory/items"));

        var counters = host.Catalog.CountersOf("inventory");
        Assert.Equal(200, succeeded);
        Assert.Equal(200, _inventory.Requests);
        Assert.Equal(4, MirrorOf(host).InFlight);
        Assert.Equal(196, counters.MirrorsSkipped);
        await Eventually.WaitAsync(() => shadow.InProgress == 4, "the four copies to reach the stalled mirror");
        Assert.Equal(4, shadow.MaxInProgress);

        shadow.Release();
        await Eventually.WaitAsync(() => counters.MirrorsSent == 4 && MirrorOf(host).InFlight == 0, "the copies to be answered once released");
        Assert.Equal(4, shadow.Requests);
    }

    [Fact]
    public async Task A_copy_that_outlives_its_timeout_is_abandoned_and_counted_as_failed()
    {
        await using var shadow = await Shadow.StartAsync(stall: true);
        using var host = Host(shadow.Address, new() { ["Timeout"] = "00:00:00.300" });

        await Load.GetOkAsync(host.Client, "http://inventory/items");

        var counters = host.Catalog.CountersOf("inventory");
        await Eventually.WaitAsync(() => counters.MirrorsFailed == 1 && shadow.Aborted == 1, "the copy to time out");
        Assert.Equal(0, counters.MirrorsSent);
        Assert.Equal(0, MirrorOf(host).InFlight);
    }

    [Fact]
    public async Task A_dead_mirror_leaves_every_primary_call_successful_and_its_copies_are_counted_as_failed()
    {
        using var closed = LoopbackPorts.Closed();
        using var host = Host(closed.Address, []);
        var client = host.Client;

        var succeeded = await Load.RunAsync(300, 4, _ => Load.GetOkAsync(client, "http://inventory/items"));
        await Eventually.WaitAsync(() => MirrorOf(host).InFlight == 0, "the copies to end");

        var counters = host.Catalog.CountersOf("inventory");
        output.WriteLine($"sent {counters.MirrorsSent}, failed {counters.MirrorsFailed}, skipped {counters.MirrorsSkipped}.");
        Assert.Equal(300, succeeded);
        Assert.Equal(300, _inventory.Requests);
        Assert.Equal(0, counters.MirrorsSent);
        Assert.Equal(300, counters.MirrorsFailed + counters.MirrorsSkipped);
        Assert.True(counters.MirrorsFailed > 0, "no copy was tried");
    }

    [Fact]
    public async Task A_copy_never_carries_the_callers_cancellation()
    {
        await using var shadow = await Shadow.StartAsync(stall: true);
        using var host = Host(shadow.Address, new() { ["Timeout"] = "00:00:30" });
        _inventory.Delay = TimeSpan.FromSeconds(30);
        using var cancel = new CancellationTokenSource();

        var primary = host.Client.GetAsync("http://inventory/items", cancel.Token);
        await Eventually.WaitAsync(() => shadow.InProgress == 1 && _inventory.Requests == 1, "the primary and its copy to arrive");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => primary);
        shadow.Release();

        var counters = host.Catalog.CountersOf("inventory");
        await Eventually.WaitAsync(() => counters.MirrorsSent == 1, "the copy to be answered");
        Assert.Equal(0, shadow.Aborted);
        Assert.Equal(0, counters.MirrorsFailed);
    }

    [Fact]
    public async Task Requests_of_other_routes_are_not_copied()
    {
        await using var shadow = await Shadow.StartAsync(stall: false);
        using var host = Host(shadow.Address, [], new() { ["Mesh:Services:inventory:Routes:0:Match:Path:Value"] = "/orders" });
        var client = host.Client;

        await Load.RunAsync(50, 2, _ => Load.GetOkAsync(client, "http://inventory/items"));
        await Load.RunAsync(50, 2, _ => Load.GetOkAsync(client, "http://inventory/orders/1"));
        await Eventually.WaitAsync(() => MirrorOf(host).InFlight == 0, "the copies to end");

        Assert.Equal(100, _inventory.Requests);
        Assert.Equal(50, shadow.Requests);
        Assert.All(shadow.Seen, seen => Assert.Equal("/orders/1", seen.Target));
        Assert.Equal(50, host.Catalog.CountersOf("inventory").MirrorsSent);
    }

    [Fact]
    public async Task A_buffered_body_is_copied_and_a_streamed_one_is_skipped()
    {
        await using var shadow = await Shadow.StartAsync(stall: false);
        using var host = Host(shadow.Address, []);
        var client = host.Client;
        var counters = host.Catalog.CountersOf("inventory");

        using (var buffered = await client.PostAsync("http://inventory/items", new StringContent("hello")))
        {
            Assert.Equal("hello", (await TestBackend.ReadEchoAsync(buffered)).Body);
        }

        await Eventually.WaitAsync(() => counters.MirrorsSent == 1, "the copy of the buffered body");
        Assert.Equal("hello", Assert.Single(shadow.Seen).Body);

        using (var streamed = await client.PostAsync("http://inventory/items", new StreamContent(new MemoryStream("streamed"u8.ToArray()))))
        {
            Assert.Equal("streamed", (await TestBackend.ReadEchoAsync(streamed)).Body);
        }

        Assert.Equal(1, counters.MirrorsSkipped);
        Assert.Equal(1, shadow.Requests);
    }

    private static RouteMirror MirrorOf(MeshTestHost host) =>
        host.Catalog.TryGetService("inventory", out var service) && service.Mirrors is [{ } mirror, ..] ? mirror : throw new InvalidOperationException("no mirror");

    private MeshTestHost Host(Uri mirror, Dictionary<string, string> settings, Dictionary<string, string?>? extra = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["Mesh:Services:inventory:Endpoints:0:Address"] = _inventory.Address.ToString(),
            ["Mesh:Services:shadow:Endpoints:0:Address"] = mirror.ToString(),
            ["Mesh:Services:inventory:Routes:0:Name"] = "items",
            ["Mesh:Services:inventory:Routes:0:Mirror:Service"] = "shadow",
        };
        foreach (var (key, value) in settings)
        {
            config[$"Mesh:Services:inventory:Routes:0:Mirror:{key}"] = value;
        }

        foreach (var (key, value) in extra ?? [])
        {
            config[key] = value;
        }

        return MeshTestHost.Create(config, services => services.AddSingleton(MeshRandom.Seeded(16)));
    }

    /// <summary>A real server that receives copies: counts them, keeps what it saw and, when stalling, answers only once released.</summary>
    private sealed class Shadow : IAsyncDisposable
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly bool _stall;
        private TestApp _app = null!;
        private long _requests;
        private long _marked;
        private long _aborted;
        private int _inProgress;
        private int _maxInProgress;

        private Shadow(bool stall) => _stall = stall;

        public Uri Address => _app.Address;

        public long Requests => Interlocked.Read(ref _requests);

        public long Marked => Interlocked.Read(ref _marked);

        public long Aborted => Interlocked.Read(ref _aborted);

        public int InProgress => Volatile.Read(ref _inProgress);

        public int MaxInProgress => Volatile.Read(ref _maxInProgress);

        public ConcurrentQueue<(string Target, string Body)> Seen { get; } = new();

        public static async Task<Shadow> StartAsync(bool stall)
        {
            var shadow = new Shadow(stall);
            shadow._app = await TestApp.StartAsync(_ => { }, app => app.Run(shadow.HandleAsync));
            return shadow;
        }

        public void Release() => _release.TrySetResult();

        public async ValueTask DisposeAsync()
        {
            Release();
            await _app.DisposeAsync();
        }

        private async Task HandleAsync(HttpContext context)
        {
            Interlocked.Increment(ref _requests);
            if (context.Request.Headers[MeshHeaders.Mirror] == "1")
            {
                Interlocked.Increment(ref _marked);
            }

            var now = Interlocked.Increment(ref _inProgress);
            for (var max = Volatile.Read(ref _maxInProgress); now > max; max = Volatile.Read(ref _maxInProgress))
            {
                Interlocked.CompareExchange(ref _maxInProgress, now, max);
            }

            try
            {
                using var reader = new StreamReader(context.Request.Body);
                var body = await reader.ReadToEndAsync(context.RequestAborted);
                Seen.Enqueue((context.Request.Path + context.Request.QueryString, body));
                if (_stall)
                {
                    await _release.Task.WaitAsync(context.RequestAborted);
                }

                context.Response.StatusCode = (int)HttpStatusCode.OK;
                await context.Response.WriteAsync(Requests.ToString(CultureInfo.InvariantCulture), context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref _aborted);
            }
            finally
            {
                Interlocked.Decrement(ref _inProgress);
            }
        }
    }
}
