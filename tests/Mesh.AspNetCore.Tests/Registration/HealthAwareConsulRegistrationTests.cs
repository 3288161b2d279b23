using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Mesh.AspNetCore.Registration;
using Mesh.ControlPlane.Contract;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.AspNetCore.Tests.Registration;

/// <summary>
/// With ASP.NET Core health checks, the registration with a Consul agent (a real stub on loopback) follows them as the
/// one with meshd does: not registered before they pass, its check marked critical (out of the passing instances) while
/// they fail, passing again when they recover; registered again on recovery had the agent removed it meanwhile.
/// </summary>
public sealed class HealthAwareConsulRegistrationTests : IDisposable
{
    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(100);
    private readonly TempDirectory _cache = new("mesh-consulhealth-");

    public void Dispose() => _cache.Dispose();

    [Fact]
    public async Task An_instance_whose_checks_fail_is_not_registered_with_the_agent_and_registers_once_they_pass()
    {
        await using var consul = await StubConsul.StartAsync();
        await using var server = await StartServerAsync(consul, healthy: false);

        // Several runs of the failing check: the agent is not called.
        await Eventually.WaitAsync(() => server.Check.Runs >= 5, "five runs of the failing check");
        Assert.Empty(consul.AgentCalls);
        Assert.Equal(RegistrationState.Waiting, server.Registration.State);

        server.Check.Healthy = true;
        await Eventually.WaitAsync(async () => (await PassingAsync(consul)).Count == 1, "the instance registered and passing", TimeSpan.FromSeconds(10));
        Assert.Equal("register", consul.AgentCalls.First().Kind);
        Assert.Equal(RegistrationState.Registered, server.Registration.State);
    }

    [Fact]
    public async Task Failing_checks_mark_the_consul_check_critical_with_their_reason_and_recovery_passes_it_again()
    {
        await using var consul = await StubConsul.StartAsync();
        await using var server = await StartServerAsync(consul, healthy: true);
        await Eventually.WaitAsync(async () => (await PassingAsync(consul)).Count == 1, "the instance registered and passing", TimeSpan.FromSeconds(10));
        using var states = new StateListener(server.App.App.Services.GetRequiredService<IMeterFactory>());

        server.Check.Healthy = false;

        // Out of the passing instances at once, still in the catalog, critical with the failing check as its note.
        await Eventually.WaitAsync(async () => (await PassingAsync(consul)).Count == 0, "the instance out of the passing instances", TimeSpan.FromSeconds(10));
        var all = await InstancesAsync(consul, passing: false);
        var entry = Assert.Single(all);
        Assert.Equal("critical", entry.GetProperty("Checks")[0].GetProperty("Status").GetString());
        var fail = consul.AgentCalls.First(c => c.Kind == "fail");
        Assert.Equal("/v1/agent/check/fail/service:inv-c1", fail.Path);
        Assert.Equal("database: connection pool exhausted", fail.Body);
        Assert.Equal(RegistrationState.Draining, server.Registration.State);
        await Eventually.WaitAsync(() => states.Current("consul", "draining"), "the gauge to show the Consul registration draining");
        Assert.Contains(server.Logs.Entries, e => e.Category == ConsulRegistration.LogCategory && e.Message.Contains("critical", StringComparison.Ordinal));

        // While the checks fail, the check is kept critical (not passed), and the instance is not registered again.
        var fails = consul.AgentCalls.Count(c => c.Kind == "fail");
        await Eventually.WaitAsync(() => consul.AgentCalls.Count(c => c.Kind == "fail") >= fails + 2, "the check kept critical", TimeSpan.FromSeconds(10));
        var sinceFail = consul.AgentCalls.SkipWhile(c => c.Kind != "fail").ToList();
        Assert.DoesNotContain(sinceFail, c => c.Kind is "pass" or "register");

        server.Check.Healthy = true;
        await Eventually.WaitAsync(async () => (await PassingAsync(consul)).Count == 1, "the instance passing again", TimeSpan.FromSeconds(10));
        Assert.Single(consul.AgentCalls, c => c.Kind == "register");
        await Eventually.WaitAsync(() => states.Current("consul", "registered"), "the gauge to show the Consul registration registered");
        Assert.DoesNotContain(server.Logs.Entries, e => e.Message.Contains("s3cr3t", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_instance_the_agent_removed_while_its_checks_fail_registers_again_only_once_they_pass()
    {
        await using var consul = await StubConsul.StartAsync();
        await using var server = await StartServerAsync(consul, healthy: true);
        await Eventually.WaitAsync(async () => (await PassingAsync(consul)).Count == 1, "the instance registered and passing", TimeSpan.FromSeconds(10));

        server.Check.Healthy = false;
        await Eventually.WaitAsync(() => consul.AgentCalls.Any(c => c.Kind == "fail"), "the check marked critical", TimeSpan.FromSeconds(10));

        // The agent removes the critical service (as DeregisterCriticalServiceAfter does): the registration counts
        // itself out and stays out while the checks fail.
        using var http = new HttpClient();
        using var dropped = await http.PutAsync(new Uri(consul.Address, "/v1/agent/service/deregister/inv-c1"), null);
        dropped.EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => server.Registration.State == RegistrationState.Deregistered, "the registration to count itself out", TimeSpan.FromSeconds(10));
        var runs = server.Check.Runs;
        await Eventually.WaitAsync(() => server.Check.Runs >= runs + 5, "five more runs of the failing check");
        Assert.Single(consul.AgentCalls, c => c.Kind == "register");
        Assert.Empty(await InstancesAsync(consul, passing: false));

        server.Check.Healthy = true;
        await Eventually.WaitAsync(async () => (await PassingAsync(consul)).Count == 1, "the instance registered again and passing", TimeSpan.FromSeconds(10));
        Assert.Equal(2, consul.AgentCalls.Count(c => c.Kind == "register"));
    }

    [Fact]
    public async Task With_meshd_and_consul_both_registrations_follow_one_verdict_of_the_checks()
    {
        await using var meshd = await TestMeshd.StartAsync(TimeSpan.FromSeconds(2));
        await using var consul = await StubConsul.StartAsync();
        await using var server = await StartServerAsync(consul, healthy: true, meshd);
        var registration = server.App.App.Services.GetRequiredService<MeshRegistration>();
        await registration.Registered.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.WaitAsync(async () => (await PassingAsync(consul)).Count == 1, "the instance passing in Consul", TimeSpan.FromSeconds(10));
        using var states = new StateListener(server.App.App.Services.GetRequiredService<IMeterFactory>());

        // One loop runs the checks for both, and says so once.
        Assert.Single(server.Logs.Entries, e => e.Message.Contains("waits for its health checks", StringComparison.Ordinal));

        server.Check.Healthy = false;
        await Eventually.WaitAsync(async () => (await PassingAsync(consul)).Count == 0, "the instance out of Consul's passing instances", TimeSpan.FromSeconds(10));
        await Eventually.WaitAsync(async () => (await MeshdInstancesAsync(meshd)).SingleOrDefault() is { Weight: 0 }, "meshd to show it at weight 0", TimeSpan.FromSeconds(10));
        await Eventually.WaitAsync(() => states.Current("consul", "draining") && states.Current("meshd", "draining"), "the gauge to show both registrations draining");
        Assert.Single(server.Logs.Entries, e => e.Message.Contains("health checks of inventory instance inv-c1 fail", StringComparison.Ordinal));

        server.Check.Healthy = true;
        await Eventually.WaitAsync(async () => (await PassingAsync(consul)).Count == 1, "the instance passing in Consul again", TimeSpan.FromSeconds(10));
        await Eventually.WaitAsync(async () => (await MeshdInstancesAsync(meshd)).SingleOrDefault() is { Weight: 1 }, "meshd to show it at its weight again", TimeSpan.FromSeconds(10));
        await Eventually.WaitAsync(() => states.Current("consul", "registered") && states.Current("meshd", "registered"), "the gauge to show both registrations registered");
    }

    private static async Task<List<JsonElement>> PassingAsync(StubConsul consul) => await InstancesAsync(consul, passing: true);

    private static async Task<List<JsonElement>> InstancesAsync(StubConsul consul, bool passing)
    {
        using var http = new HttpClient();
        var body = await http.GetStringAsync(new Uri(consul.Address, "/v1/health/service/inventory" + (passing ? "?passing=true" : "")));
        using var document = JsonDocument.Parse(body);
        return [.. document.RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    private static async Task<IReadOnlyList<InstanceStatusDocument>> MeshdInstancesAsync(TestMeshd meshd)
    {
        using var response = await meshd.Admin.GetAsync(new Uri("/v1/services/inventory", UriKind.Relative));
        return response.StatusCode == HttpStatusCode.NotFound
            ? []
            : (await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync(ControlPlaneJson.Default.ServiceStatusDocument))!.Instances;
    }

    private async Task<Server> StartServerAsync(StubConsul consul, bool healthy, TestMeshd? meshd = null)
    {
        var server = new Server();
        server.Check.Healthy = healthy;
        server.App = await TestApp.StartAsync(
            services =>
            {
                services.AddLogging(b => b.AddProvider(server.Logs));
                services.AddMeshServer();
                services.AddHealthChecks().AddCheck("database", server.Check);
                services.Configure<MeshOptions>(o =>
                {
                    o.ServiceName = "inventory";
                    o.Discovery.Consul.Address = consul.Address.ToString();
                    if (meshd is not null)
                    {
                        o.ControlPlane.Address = meshd.Address.ToString();
                        o.ControlPlane.Token = TestMeshd.WorkloadToken;
                        o.ControlPlane.CacheDirectory = Path.Combine(_cache.Path, "inv-c1");
                    }
                });
                services.Configure<MeshServerOptions>(o =>
                {
                    o.InstanceId = "inv-c1";
                    // With meshd, long enough that its drain at weight 0 lasts until the checks recover.
                    o.DrainTime = meshd is null ? TimeSpan.Zero : TimeSpan.FromMinutes(1);
                    o.HealthCheckInterval = s_interval;
                    o.Consul.Register = true;
                    o.Consul.CheckTtl = TimeSpan.FromSeconds(1);
                });
            },
            app => app.Run(context => context.Response.WriteAsync("inventory")));
        server.Registration = server.App.App.Services.GetRequiredService<ConsulRegistration>();
        return server;
    }

    private sealed class Server : IAsyncDisposable
    {
        public TestApp App { get; set; } = null!;

        public ConsulRegistration Registration { get; set; } = null!;

        public FlipCheck Check { get; } = new();

        public LogCollector Logs { get; } = new();

        public async ValueTask DisposeAsync()
        {
            // The minute of drain is cut short by the host's own deadline.
            using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            await App.App.StopAsync(deadline.Token);
            await App.DisposeAsync();
        }
    }
}
