using System.Diagnostics;
using System.Text.Json;
using Mesh.AspNetCore.Registration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.Registration;

/// <summary>AddMeshServer() registers with a Consul agent (a real stub on loopback), keeps its TTL check passing, and deregisters on a graceful stop.</summary>
public sealed class ConsulRegistrationTests
{
    private const string Token = "consul-secret-token";

    [Fact]
    public async Task Registers_with_the_instance_and_a_ttl_check_passes_it_over_time_and_deregisters_on_stop()
    {
        await using var consul = await StubConsul.StartAsync();
        using var logs = new LogCollector();
        var app = await StartServerAsync(consul, register: true, logs);
        var port = app.Address.Port;
        try
        {
            await Eventually.WaitAsync(() => consul.AgentCalls.Count(c => c.Kind == "pass") >= 2, "two passes of the TTL check", TimeSpan.FromSeconds(15));

            var register = consul.AgentCalls.First();
            Assert.Equal("register", register.Kind);
            Assert.Equal("/v1/agent/service/register", register.Path);
            using var body = JsonDocument.Parse(register.Body);
            var root = body.RootElement;
            Assert.Equal("inv-c1", root.GetProperty("ID").GetString());
            Assert.Equal("inventory", root.GetProperty("Name").GetString());
            Assert.Equal("127.0.0.1", root.GetProperty("Address").GetString());
            Assert.Equal(port, root.GetProperty("Port").GetInt32());
            Assert.Equal(0, root.GetProperty("Tags").GetArrayLength());
            Assert.Equal(
                new Dictionary<string, string> { ["version"] = "v2", ["zone"] = "eu-1a" },
                root.GetProperty("Meta").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!));
            Assert.Equal(3, root.GetProperty("Weights").GetProperty("Passing").GetInt32());
            Assert.Equal(1, root.GetProperty("Weights").GetProperty("Warning").GetInt32());
            var check = root.GetProperty("Check");
            Assert.Equal("service:inv-c1", check.GetProperty("CheckID").GetString());
            Assert.Equal("1s", check.GetProperty("TTL").GetString());
            Assert.Equal("1m", check.GetProperty("DeregisterCriticalServiceAfter").GetString());
            Assert.All(consul.AgentCalls.Where(c => c.Kind == "pass"), c => Assert.Equal("/v1/agent/check/pass/service:inv-c1", c.Path));
            Assert.All(consul.AgentCalls, c => Assert.Equal(Token, c.Token));

            // The registered instance answers the agent's health query as passing once its check was passed.
            using var http = new HttpClient();
            var health = await http.GetStringAsync(new Uri(consul.Address, "/v1/health/service/inventory?passing=true"));
            using var answer = JsonDocument.Parse(health);
            var entry = Assert.Single(answer.RootElement.EnumerateArray());
            Assert.Equal(port, entry.GetProperty("Service").GetProperty("Port").GetInt32());
        }
        finally
        {
            await app.DisposeAsync();
        }

        var last = consul.AgentCalls.Last();
        Assert.Equal("deregister", last.Kind);
        Assert.Equal("/v1/agent/service/deregister/inv-c1", last.Path);
        Assert.Equal(Token, last.Token);
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(Token, StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.Category == ConsulRegistration.LogCategory && e.Message.Contains("Deregistered inventory instance inv-c1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_meshd_a_graceful_stop_deregisters_from_consul_then_keeps_serving_for_the_drain()
    {
        var drain = TimeSpan.FromSeconds(3);
        await using var consul = await StubConsul.StartAsync();
        var app = await StartServerAsync(consul, register: true, drain: drain);
        await Eventually.WaitAsync(() => consul.AgentCalls.Any(c => c.Kind == "pass"), "a pass of the TTL check", TimeSpan.FromSeconds(15));

        var stopping = Stopwatch.StartNew();
        var stopped = app.DisposeAsync().AsTask();
        await Eventually.WaitAsync(() => consul.AgentCalls.Any(c => c.Kind == "deregister"), "the deregistration", TimeSpan.FromSeconds(10));

        // Deregistered, and still serving: the drain follows the deregistration.
        using var http = new HttpClient();
        Assert.Equal("inventory", await http.GetStringAsync(app.Address));
        await stopped;
        // A timer may fire up to a clock tick before the stopwatch says its time is up (seen: 2.9996 s for 3 s).
        Assert.True(stopping.Elapsed >= drain - TimeSpan.FromMilliseconds(20), $"the server stopped after {stopping.Elapsed}, before the drain of {drain}");
    }

    [Fact]
    public async Task A_host_stopped_twice_deregisters_from_consul_and_drains_once()
    {
        await using var consul = await StubConsul.StartAsync();
        using var logs = new LogCollector();
        var app = await StartServerAsync(consul, register: true, logs, drain: TimeSpan.FromMilliseconds(200));
        await Eventually.WaitAsync(() => consul.AgentCalls.Any(c => c.Kind == "pass"), "a pass of the TTL check", TimeSpan.FromSeconds(15));

        await app.App.StopAsync();

        // TestApp's disposal stops the host again.
        await app.DisposeAsync();
        Assert.Single(consul.AgentCalls, c => c.Kind == "deregister");
        Assert.Single(logs.Entries, e => e.Category == ConsulRegistration.LogCategory && e.Message.StartsWith("Draining", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Registers_again_when_the_agent_forgets_the_service()
    {
        await using var consul = await StubConsul.StartAsync();
        await using var app = await StartServerAsync(consul, register: true);
        await Eventually.WaitAsync(() => consul.AgentCalls.Any(c => c.Kind == "pass"), "a pass of the TTL check", TimeSpan.FromSeconds(15));

        // The agent drops the service (as a restarted agent would): the next pass is refused, and the instance registers again.
        using var http = new HttpClient();
        using var dropped = await http.PutAsync(new Uri(consul.Address, "/v1/agent/service/deregister/inv-c1"), null);
        dropped.EnsureSuccessStatusCode();
        await Eventually.WaitAsync(() => consul.AgentCalls.Count(c => c.Kind == "register") >= 2, "a second registration", TimeSpan.FromSeconds(15));
        var registers = consul.AgentCalls.Where(c => c.Kind == "register").ToList();
        Assert.Equal(registers[0].Body, registers[1].Body);
    }

    [Fact]
    public async Task Register_false_makes_no_call_to_the_agent()
    {
        await using var consul = await StubConsul.StartAsync();
        var app = await StartServerAsync(consul, register: false);
        var registration = app.App.Services.GetRequiredService<ConsulRegistration>();
        Assert.Null(registration.Service);
        await app.DisposeAsync();
        Assert.Empty(consul.AgentCalls);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(601_000)]
    public async Task A_check_ttl_out_of_range_fails_start_naming_the_field(int milliseconds)
    {
        await using var consul = await StubConsul.StartAsync();
        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => StartServerAsync(consul, register: true, ttl: TimeSpan.FromMilliseconds(milliseconds)));
        Assert.Contains("Mesh:Server:Consul:CheckTtl", failure.Message, StringComparison.Ordinal);
        Assert.Empty(consul.AgentCalls);
    }

    private static Task<TestApp> StartServerAsync(StubConsul consul, bool register, LogCollector? logs = null, TimeSpan? ttl = null, TimeSpan? drain = null) =>
        TestApp.StartAsync(
            services =>
            {
                if (logs is not null)
                {
                    services.AddSingleton<ILoggerProvider>(logs);
                }

                services.AddMeshServer();
                services.Configure<MeshOptions>(o =>
                {
                    o.ServiceName = "inventory";
                    o.Discovery.Consul.Address = consul.Address.ToString();
                    o.Discovery.Consul.Token = Token;
                });
                services.Configure<MeshServerOptions>(o =>
                {
                    o.InstanceId = "inv-c1";
                    o.Zone = "eu-1a";
                    o.Labels["version"] = "v2";
                    o.Weight = 3;
                    o.DrainTime = drain ?? TimeSpan.Zero;
                    o.Consul.Register = register;
                    o.Consul.CheckTtl = ttl ?? TimeSpan.FromSeconds(1);
                });
            },
            app => app.Run(context => context.Response.WriteAsync("inventory")));
}
