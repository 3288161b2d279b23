using System.Text.Json;

namespace Mesh.Cli.Tests.Verbs;

/// <summary><c>meshctl describe service X</c>: policy and source, instances with versions, ejections and local overrides, callers, history.</summary>
public sealed class DescribeVerbTests : IAsyncLifetime
{
    private Scenario _scenario = null!;

    private Cli Cli => _scenario.Cli;

    public async Task InitializeAsync() => _scenario = await Scenario.StartAsync();

    public async Task DisposeAsync() => await _scenario.DisposeAsync();

    [Fact]
    public async Task Describe_service_shows_what_each_instance_runs_including_its_local_override()
    {
        var result = await Cli.RunAsync("describe", "service", "orders");

        Assert.Equal(0, result.Code);
        Assert.Equal(
            """
            Name:       orders
            Policy:     v2 from meshd, updated YYYY-MM-DDTHH:MM:SSZ
            Converged:  no
            Callers:    gateway

            Policy document:
              LoadBalancer: "RoundRobin"
              Retry:MaxAttempts: 5

            Instances (2):
              INSTANCE  ADDRESS                ZONE  LEASE          RUNS                   LAGGING       EJECTED-BY   CERTIFICATE
              o-1       http://127.0.0.1:5001  a     expires in Nm  orders@v1,payments@v1  orders@v1<v2  gateway/g-1  expires in Nd
              o-2       http://127.0.0.1:5002  a     expires in Nm  orders@v2,payments@v1  -             -            expires in Nd

            Local overrides (the instance runs its own value, not meshd's):
              o-1: Mesh:Services:orders:Retry:MaxAttempts

            Recent history:
              VERSION  UPDATED               CHANGE
              v2       YYYY-MM-DDTHH:MM:SSZ  ~Retry:MaxAttempts
              v1       YYYY-MM-DDTHH:MM:SSZ  +LoadBalancer +Retry:MaxAttempts

            """,
            result.Normalized);
    }

    [Fact]
    public async Task Describe_service_as_json_has_the_status_the_policy_and_the_history()
    {
        var result = await Cli.RunAsync("describe", "service", "orders", "-o", "json");

        Assert.Equal(0, result.Code);
        using var document = JsonDocument.Parse(result.Out);
        var root = document.RootElement;
        Assert.Equal("orders", root.GetProperty("service").GetProperty("name").GetString());
        Assert.Equal(2, root.GetProperty("policy").GetProperty("version").GetInt64());
        Assert.Equal([2L, 1], root.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("version").GetInt64()));
        var o1 = root.GetProperty("service").GetProperty("instances")[0];
        Assert.Equal("Mesh:Services:orders:Retry:MaxAttempts", o1.GetProperty("report").GetProperty("overriddenKeys")[0].GetString());
    }

    [Fact]
    public async Task Describe_a_service_without_a_policy_says_so_and_an_unknown_one_fails()
    {
        var gateway = await Cli.RunAsync("describe", "service", "gateway");
        Assert.Equal(0, gateway.Code);
        Assert.Contains("Policy:     none in meshd: instances run their own configuration and the defaults", gateway.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("Recent history:", gateway.Out, StringComparison.Ordinal);

        var unknown = await Cli.RunAsync("describe", "service", "nowhere");
        Assert.Equal(1, unknown.Code);
        Assert.Contains("Service 'nowhere' is not known to meshd", unknown.Err, StringComparison.Ordinal);
    }
}
