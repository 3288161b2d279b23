using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace Mesh.Cli.Tests.Verbs;

/// <summary><c>meshctl get services|instances|policies</c> against a real meshd with a reporting fleet.</summary>
public sealed class GetVerbTests : IAsyncLifetime
{
    private Scenario _scenario = null!;

    private Cli Cli => _scenario.Cli;

    public async Task InitializeAsync() => _scenario = await Scenario.StartAsync();

    public async Task DisposeAsync() => await _scenario.DisposeAsync();

    [Fact]
    public async Task Get_services_is_a_table_of_policy_versions_instances_convergence_and_callers()
    {
        var result = await Cli.RunAsync("get", "services");

        Assert.Equal(0, result.Code);
        Assert.Equal(
            """
            NAME      POLICY  INSTANCES  REPORTING  CONVERGED  CALLERS
            gateway   -       1          1          yes        -
            orders    v2      2          2          no         gateway
            payments  v1      0          0          yes        -

            """,
            result.Normalized);
        Assert.Empty(result.Err);
    }

    [Fact]
    public async Task Get_services_as_json_and_yaml_carries_every_instance_and_its_report()
    {
        var json = await Cli.RunAsync("get", "services", "-o", "json");
        Assert.Equal(0, json.Code);
        using var document = JsonDocument.Parse(json.Out);
        var orders = document.RootElement.EnumerateArray().Single(s => s.GetProperty("name").GetString() == "orders");
        Assert.Equal(2, orders.GetProperty("policyVersion").GetInt64());
        Assert.False(orders.GetProperty("converged").GetBoolean());
        var o1 = orders.GetProperty("instances")[0];
        Assert.Equal("o-1", o1.GetProperty("instanceId").GetString());
        Assert.Equal("gateway/g-1", o1.GetProperty("ejectedBy")[0].GetString());
        Assert.Equal(1, o1.GetProperty("report").GetProperty("policies").GetProperty("orders").GetInt64());
        Assert.Equal(2, o1.GetProperty("report").GetProperty("lagging")[0].GetProperty("current").GetInt64());

        var yaml = await Cli.RunAsync("get", "services", "-o", "yaml");
        Assert.Equal(0, yaml.Code);
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml.Out));
        var services = (YamlSequenceNode)stream.Documents.Single().RootNode;
        var yamlOrders = (YamlMappingNode)services.Children.Single(s => ((YamlScalarNode)((YamlMappingNode)s)["name"]).Value == "orders");
        Assert.Equal("2", ((YamlScalarNode)yamlOrders["policyVersion"]).Value);
        Assert.Equal("gateway", ((YamlScalarNode)((YamlSequenceNode)yamlOrders["callers"]).Children.Single()).Value);
    }

    [Fact]
    public async Task Get_instances_lists_leases_the_versions_each_runs_and_who_ejects_it()
    {
        var all = await Cli.RunAsync("get", "instances");
        Assert.Equal(0, all.Code);
        Assert.Equal(
            """
            SERVICE  INSTANCE  ADDRESS                ZONE  WEIGHT  LEASE          POLICIES               CONVERGED  EJECTED-BY
            gateway  g-1       http://127.0.0.1:6001  a     1       expires in Nm  orders@v2,payments@v1  yes        -
            orders   o-1       http://127.0.0.1:5001  a     1       expires in Nm  orders@v1,payments@v1  no         gateway/g-1
            orders   o-2       http://127.0.0.1:5002  a     1       expires in Nm  orders@v2,payments@v1  yes        -

            """,
            all.Normalized);

        var one = await Cli.RunAsync("get", "instances", "orders", "-o", "json");
        using var document = JsonDocument.Parse(one.Out);
        Assert.Equal(["o-1", "o-2"], document.RootElement.EnumerateArray().Select(i => i.GetProperty("instanceId").GetString()));
        Assert.All(document.RootElement.EnumerateArray(), i => Assert.Equal("orders", i.GetProperty("service").GetString()));

        var unknown = await Cli.RunAsync("get", "instances", "nowhere");
        Assert.Equal(1, unknown.Code);
        Assert.Contains("404", unknown.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_policies_lists_versions_and_keys_and_prints_one_document_by_its_keys()
    {
        var all = await Cli.RunAsync("get", "policies");
        Assert.Equal(0, all.Code);
        Assert.Equal(
            """
            SERVICE   VERSION  KEYS
            orders    v2       LoadBalancer,Retry
            payments  v1       Timeout

            """,
            all.Normalized);

        var one = await Cli.RunAsync("get", "policies", "orders");
        Assert.Equal(
            """
            # orders v2, updated YYYY-MM-DDTHH:MM:SSZ
            LoadBalancer: "RoundRobin"
            Retry:MaxAttempts: 5

            """,
            one.Normalized);

        var json = await Cli.RunAsync("get", "policies", "orders", "-o", "json");
        using var document = JsonDocument.Parse(json.Out);
        Assert.Equal(2, document.RootElement.GetProperty("version").GetInt64());
        Assert.Equal(5, document.RootElement.GetProperty("policy").GetProperty("Retry").GetProperty("MaxAttempts").GetInt32());
    }
}
